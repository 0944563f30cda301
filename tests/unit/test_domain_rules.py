"""The domain's pure rules, without a database: device usability, the image life cycle, firmware
version ordering and bind matching."""

from __future__ import annotations

import pytest

from accord.domain.device_profile import parse_group
from accord.domain.errors import BadState, Conflict, InvalidInput
from accord.domain.firmware import check_flash_allowed, is_upgrade, version_key
from accord.domain.image import (
    ImageState,
    check_approve,
    check_reject,
    check_upload,
    check_usable,
    parse_kind,
)
from accord.domain.matching import Offer, group_mismatch, trait_mismatch
from accord.domain.usability import DeviceCondition, device_usable, unusable_reason

OK = DeviceCondition("d1", "enabled", hostname="h1")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"status": "maintaining"}, "disabled (maintaining)"),
        ({"quarantine_reason": "flash interrupted"}, "quarantined: flash interrupted"),
        ({"health": "unusable", "health_reasons": ("no driver bound",)}, "cannot be used: no driver bound"),
        ({"lost": True}, "cannot be used: lost"),
        ({"host_lost": True}, "Host 'h1' has stopped reporting"),
    ],
)
def test_every_unusable_condition_names_itself(changes: dict[str, object], reason: str) -> None:
    assert unusable_reason(OK) is None
    condition = DeviceCondition(**{**OK.__dict__, **changes})  # type: ignore[arg-type]
    found = unusable_reason(condition)
    assert found is not None and reason in found


def test_degraded_devices_stay_usable_and_columns_follow_the_same_rule() -> None:
    assert unusable_reason(DeviceCondition("d", "enabled", health="degraded")) is None
    assert device_usable("enabled", "ok", False, None)
    assert not device_usable("maintaining", "ok", False, None)
    assert not device_usable("enabled", "unusable", False, None)
    assert not device_usable("enabled", "ok", True, None)
    assert not device_usable("enabled", "ok", False, "bricked")


def test_image_life_cycle() -> None:
    for state in ("queued", "uploaded", "rejected"):
        check_upload("i", state)
    with pytest.raises(BadState, match="can no longer change"):
        check_upload("i", ImageState.APPROVED)
    check_approve("i", "uploaded")
    for state in ("queued", "approved", "rejected"):
        with pytest.raises(BadState, match="only an uploaded image"):
            check_approve("i", state)
    for state in ("queued", "uploaded", "approved"):
        check_reject("i", state)
    with pytest.raises(BadState, match="already rejected"):
        check_reject("i", "rejected")
    check_usable("i", "approved")
    with pytest.raises(Conflict, match="uploaded, not approved; it cannot be flashed"):
        check_usable("i", "uploaded", "flashed")
    assert parse_kind("firmware") == "firmware"
    with pytest.raises(InvalidInput, match="bitstream, firmware"):
        parse_kind("driver")


@pytest.mark.parametrize(
    ("older", "newer"),
    [("1.9", "1.10"), ("1.2", "1.2.1"), ("2.0-rc1", "2.0.1"), ("0.9.9", "1"), ("1.0", "1.0.0.1")],
)
def test_versions_order_part_by_part(older: str, newer: str) -> None:
    assert version_key(older) < version_key(newer)
    assert is_upgrade(older, newer) and not is_upgrade(newer, older)


def test_downgrades_and_reflashes_need_force() -> None:
    check_flash_allowed("d", None, "1.0", "img", force=False)
    check_flash_allowed("d", "1.0", "1.1", "img", force=False)
    for new in ("1.0", "0.9"):
        with pytest.raises(Conflict, match="need force=true"):
            check_flash_allowed("d", "1.0", new, "img", force=False)
        check_flash_allowed("d", "1.0", new, "img", force=True)


FPGA = Offer("r0", "FPGA", frozenset({"CUSTOM_FPGA_INTEL"}), programmable=True)
FUNCTION = "9f2a4b4c-52a1-4f83-a1a8-0a1b2c3d4e5f"


@pytest.mark.parametrize(
    ("group", "offer", "mismatch"),
    [
        ({"resources:FPGA": "1"}, FPGA, None),
        ({"resources:VGPU": "1"}, FPGA, "offers FPGA, the request asks for VGPU"),
        ({"resources:FPGA": "1", "trait:CUSTOM_X": "required"}, FPGA, "lacks required trait(s) CUSTOM_X"),
        (
            {"resources:FPGA": "1", "trait:CUSTOM_FPGA_INTEL": "forbidden"},
            FPGA,
            "carries forbidden trait(s) CUSTOM_FPGA_INTEL",
        ),
        ({"resources:FPGA": "1", "accel:function_id": FUNCTION}, FPGA, None),
        (
            {"resources:FPGA": "1", "accel:function_id": FUNCTION},
            Offer("r0", "FPGA", frozenset(), programmable=False),
            f"cannot be programmed with function {FUNCTION} (it holds none)",
        ),
        (
            {"resources:FPGA": "1", "accel:function_id": FUNCTION},
            Offer("r0", "FPGA", frozenset(), function_id=FUNCTION, programmable=False),
            None,
        ),
        (
            {"resources:FPGA": "1", "accel:bitstream_id": FUNCTION},
            Offer("r0", "FPGA", frozenset()),
            f"cannot be programmed with bitstream {FUNCTION}",
        ),
    ],
)
def test_group_mismatch(group: dict[str, str], offer: Offer, mismatch: str | None) -> None:
    assert group_mismatch(parse_group(0, group), offer) == mismatch


def test_trait_rule_reports_every_missing_trait_sorted() -> None:
    assert trait_mismatch(frozenset({"CUSTOM_B", "CUSTOM_A"}), frozenset(), frozenset()) == (
        "lacks required trait(s) CUSTOM_A, CUSTOM_B"
    )
    assert trait_mismatch(frozenset(), frozenset({"CUSTOM_A"}), frozenset({"CUSTOM_B"})) is None
