"""The device-profile grammar without HTTP: parsing, normalisation and ARQ counts."""

from __future__ import annotations

import pytest

from accord.domain.device_profile import ProfileGroup, parse_group, parse_profile
from accord.domain.errors import InvalidInput


def test_group_parses_resources_traits_and_accel() -> None:
    group = parse_group(
        0,
        {
            "resources:FPGA": "2",
            "resources:CUSTOM_QAT": "1",
            "trait:CUSTOM_A": "required",
            "trait:CUSTOM_B": "forbidden",
            "accel:function_id": "f1",
        },
    )
    assert group.resources == {"FPGA": 2, "CUSTOM_QAT": 1}
    assert group.required_traits == {"CUSTOM_A"}
    assert group.forbidden_traits == {"CUSTOM_B"}
    assert group.function_id == "f1"
    assert group.bitstream_id is None
    assert group.arq_count() == 3


def test_xilinx_doubles_fpga_only() -> None:
    group = ProfileGroup({"FPGA": 2, "CUSTOM_X": 1}, frozenset({"CUSTOM_FPGA_XILINX"}))
    assert group.arq_count() == 5


def test_to_json_round_trips() -> None:
    raw = {"resources:GPU": "1", "trait:CUSTOM_A": "required", "accel:bitstream_id": "b"}
    assert parse_group(0, parse_group(0, raw).to_json()) == parse_group(0, raw)


@pytest.mark.parametrize("amount", ["0", "-2", "1.5", "", " ", "1025", "0x2"])
def test_amounts_must_be_whole_numbers_in_range(amount: str) -> None:
    with pytest.raises(InvalidInput, match="whole number"):
        parse_group(0, {"resources:FPGA": amount})


def test_amount_with_spaces_is_accepted() -> None:
    assert parse_group(0, {"resources:FPGA": " 3 "}).resources == {"FPGA": 3}


def test_profile_error_names_the_group() -> None:
    with pytest.raises(InvalidInput, match="Group 1"):
        parse_profile([{"name": "dp", "groups": [{"resources:FPGA": "1"}, {"bad": "x"}]}])
