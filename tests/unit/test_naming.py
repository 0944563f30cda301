"""Trait and resource-class spelling, shared by the agent's drivers and the server."""

from __future__ import annotations

import pytest

from accord.domain import naming

AFU = "d8424dc4-a4a9-3c26-9bd6-c0f2eb4a5e3b"
AFU_HEX = "D8424DC4A4A93C269BD6C0F2EB4A5E3B"


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("FPGA", "intel", "pac-a10"), "CUSTOM_FPGA_INTEL_PAC_A10"),
        (("NVIDIA", "1eb8", "T4-1B"), "CUSTOM_NVIDIA_1EB8_T4_1B"),
        (("QAT", "sym"), "CUSTOM_QAT_SYM"),
        (("physnet-1.a",), "CUSTOM_PHYSNET_1_A"),
        (("  lead and trail  ",), "CUSTOM_LEAD_AND_TRAIL"),
        (("a__b--c",), "CUSTOM_A_B_C"),  # a run of anything outside [0-9A-Za-z] is one `_`
        (("VF", "", "x"), "CUSTOM_VF_X"),  # an empty part adds no `__`
    ],
)
def test_custom_trait_normalises_each_part(parts: tuple[str, ...], expected: str) -> None:
    assert naming.custom_trait(*parts) == expected
    assert naming.is_custom_name(expected)


def test_non_ascii_is_replaced_before_upper_casing_as_os_traits_does() -> None:
    # Upper-casing first would turn ß into SS (os-traits bug 1762789); Placement's own
    # normalisation replaces it, so Accord does too.
    assert naming.custom_trait("straße") == "CUSTOM_STRA_E"
    assert naming.custom_trait("café") == "CUSTOM_CAF"


def test_a_name_with_nothing_trait_safe_is_refused() -> None:
    with pytest.raises(ValueError, match="no letters or digits"):
        naming.custom_trait("---", "")
    assert naming.physnet_trait("...") is None
    assert naming.physnet_trait("physnet1") == "CUSTOM_PHYSNET1"


def test_names_are_cut_at_placements_limit() -> None:
    name = naming.custom_trait("X" * 300)
    assert len(name) == naming.MAX_NAME_LENGTH == 255
    assert naming.is_custom_name(name)
    assert not naming.is_custom_name("CUSTOM_" + "X" * 249)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("CUSTOM_FPGA_INTEL", True),
        ("CUSTOM_", False),
        ("custom_fpga", False),
        ("CUSTOM_FPGA-INTEL", False),
        ("FPGA_INTEL", False),
        ("CUSTOM_FPGA_FUNCTION_ID_INTEL_D8424DC4_-A4A9", False),  # Cyborg's post-programming bug
    ],
)
def test_is_custom_name_is_placements_rule(name: str, valid: bool) -> None:
    assert naming.is_custom_name(name) is valid


def test_resource_classes_and_traits() -> None:
    assert all(naming.is_resource_class(rc) for rc in ("FPGA", "GPU", "VGPU", "PGPU", "CUSTOM_QAT"))
    assert not naming.is_resource_class("QAT")
    assert naming.custom_resource_class("MIG", "1g.10gb") == "CUSTOM_MIG_1G_10GB"
    assert naming.is_trait("OWNER_CYBORG") and naming.is_trait("CUSTOM_X")
    assert not naming.is_trait("") and not naming.is_trait("owner_cyborg") and not naming.is_trait("A" * 256)


def test_id_part_writes_a_uuid_as_sysfs_shows_it() -> None:
    assert naming.id_part(AFU) == AFU_HEX
    assert naming.id_part(AFU.upper()) == AFU_HEX
    assert naming.id_part(AFU_HEX.lower()) == AFU_HEX  # sysfs afu_id: 32 hex digits, no dashes
    assert naming.id_part("my.function v2") == "MY_FUNCTION_V2"


def test_region_trait_is_cyborgs() -> None:
    interface = "69528db6-eb31-577a-8c36-68f9faa081f6"
    assert naming.region_trait("intel_fpga", interface) == (
        "CUSTOM_FPGA_REGION_INTEL_69528DB6EB31577A8C3668F9FAA081F6"
    )


def test_function_traits_spell_cyborgs_name_first_then_accords_earlier_one() -> None:
    assert naming.function_traits("intel_fpga", AFU) == [
        f"CUSTOM_FPGA_FUNCTION_ID_INTEL_{AFU_HEX}",  # Cyborg's Intel driver and spec
        f"CUSTOM_FPGA_FUNCTION_ID_{AFU_HEX}",  # what Accord stored before; profiles may name it
    ]
    assert naming.function_traits("xilinx", AFU)[0] == f"CUSTOM_FPGA_FUNCTION_ID_XILINX_{AFU_HEX}"
    assert all(naming.is_function_trait(t) for t in naming.function_traits("xilinx", AFU))


def test_the_vendor_of_cyborg_driver_names_is_the_driver_name() -> None:
    # Deployables reported by Cyborg-style agents carry `intel` / `XILINX` as driver_name.
    assert naming.fpga_vendor("intel") == naming.fpga_vendor("intel_fpga") == "INTEL"
    assert naming.fpga_vendor("XILINX") == naming.fpga_vendor("xilinx") == "XILINX"
    assert naming.fpga_vendor("inspur") == "INSPUR"
    assert naming.fpga_vendor_trait("xilinx") == "CUSTOM_FPGA_XILINX"
    assert naming.fpga_vendor_trait("intel_fpga", "PAC_N3000") == "CUSTOM_FPGA_INTEL_PAC_N3000"
    # No driver name: the vendor-less spelling, once.
    assert naming.function_traits("", AFU) == [f"CUSTOM_FPGA_FUNCTION_ID_{AFU_HEX}"]


def test_every_spelled_name_is_one_placement_accepts() -> None:
    spelled = [
        *naming.function_traits("intel_fpga", AFU),
        naming.region_trait("xilinx", "not a uuid!"),
        naming.vendor_trait("PCI", "1d0f"),
        naming.vendor_trait("NIC", "15B3"),
        naming.product_trait("NIC", "1592"),
        naming.RC_QAT,
        naming.RC_NIC,
        naming.RC_PCI,
    ]
    assert all(naming.is_custom_name(n) for n in spelled), spelled
    assert naming.vendor_trait("NIC", "15B3") == "CUSTOM_NIC_MELLANOX"
    assert naming.vendor_trait("PCI", "1d0f") == "CUSTOM_PCI_1D0F"
