"""Intel FPGA driver on simulated hosts laid out like the DFL and OPAE drivers lay out sysfs."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.agent.drivers.intel_fpga import IntelFpgaDriver
from accord.agent.hostio import ToolFailed
from accord.agent.sim.builder import SysfsBuilder
from accord.agent.sim.firmware import build_sim_firmware
from accord.agent.sim.layouts import fpga
from accord.domain import naming
from accord.images.formats.build import build_gbs
from tests.agent.drivers.conftest import RecordingKernel, only, pci

AFU = "d8424dc4-a4a3-c413-f89e-433683f9040b"
NEW_AFU = "f7df405c-bd7a-cf72-22f1-44b0b93acd18"
IFC = "9926ab6d-6c92-5a68-aabc-a7d84c545738"
OTHER_IFC = "6ccc1b2b-6a3b-4a64-9f85-5a3d2e2b1a10"
N3000 = "0000:5e:00.0"


@pytest.fixture
def driver(kernel: RecordingKernel) -> IntelFpgaDriver:
    return IntelFpgaDriver(kernel.root, kernel)


def test_dfl_n3000_is_reported_exactly(
    builder: SysfsBuilder, driver: IntelFpgaDriver, tmp_path: Path
) -> None:
    fpga.dfl_n3000(builder, N3000, afu_id=AFU, interface_id=IFC, numa_node=1, bitstream_id="0x23000410010309")

    device = only(driver.discover())

    assert (device.type, device.vendor, device.product) == ("FPGA", "8086", "0b30")
    assert device.model == "Intel FPGA PAC N3000"
    assert (device.pci_address, device.numa_node, device.driver) == (N3000, 1, "dfl-pci")
    assert device.firmware_version == "0x23000410010309"
    assert device.health.state == "ok"
    assert device.controlpath_id.cpid_info == {"domain": "0000", "bus": "5e", "device": "00", "function": "0"}
    assert device.vendor_board_info["layout"] == "dfl"
    (region,) = device.deployables
    assert region.name == N3000
    assert region.resource_class == "FPGA"
    assert region.driver_name == "intel_fpga"
    assert region.traits == [
        "CUSTOM_FPGA_INTEL",
        "CUSTOM_FPGA_INTEL_PAC_N3000",
        "CUSTOM_FPGA_REGION_INTEL_9926AB6D6C925A68AABCA7D84C545738",
        "CUSTOM_FPGA_FUNCTION_ID_INTEL_D8424DC4A4A3C413F89E433683F9040B",
        "CUSTOM_FPGA_FUNCTION_ID_D8424DC4A4A3C413F89E433683F9040B",
    ]
    assert (region.function_id, region.interface_id) == (AFU, IFC)
    assert region.num_accelerators == 1
    assert region.attach_handles == [pci(N3000)]


def test_function_traits_are_spelled_as_the_server_spells_them_after_programming(
    builder: SysfsBuilder, driver: IntelFpgaDriver, tmp_path: Path
) -> None:
    fpga.dfl_n3000(builder, N3000, afu_id=AFU, interface_id=IFC)
    (region,) = only(driver.discover()).deployables
    # The server swaps them with naming.function_traits(deployable.driver_name, loaded).
    function_traits = [t for t in region.traits if naming.is_function_trait(t)]
    assert function_traits == naming.function_traits(region.driver_name, AFU)


def test_opae_out_of_tree_layout_with_a_vf(
    builder: SysfsBuilder, driver: IntelFpgaDriver, tmp_path: Path
) -> None:
    fpga.opae_pac_a10(builder, "0000:af:00.0", vfs=1, afu_id=AFU, interface_id=IFC, numa_node=0)

    device = only(driver.discover())

    assert (device.product, device.model, device.driver) == (
        "09c4",
        "Intel PAC with Arria 10 GX",
        "intel-fpga-pci",
    )
    assert device.vendor_board_info["layout"] == "opae"
    (region,) = device.deployables
    assert region.name == "0000:af:00.0"
    assert "CUSTOM_FPGA_INTEL_PAC_ARRIA10" in region.traits
    assert "CUSTOM_FPGA_REGION_INTEL_9926AB6D6C925A68AABCA7D84C545738" in region.traits
    assert (region.function_id, region.interface_id) == (AFU, IFC)
    # With SR-IOV on, the VF (not the PF) is what a VM gets.
    assert region.attach_handles == [pci("0000:af:00.1")]
    assert region.num_accelerators == 1


def test_enabled_vfs_are_the_accelerators(
    builder: SysfsBuilder, driver: IntelFpgaDriver, tmp_path: Path
) -> None:
    fpga.dfl_d5005(builder, "0000:3b:00.0", total_vfs=4, vfs=3, afu_id=AFU, interface_id=IFC)

    (region,) = only(driver.discover()).deployables

    assert region.num_accelerators == 3
    assert region.attach_handles == [pci("0000:3b:00.1"), pci("0000:3b:00.2"), pci("0000:3b:00.3")]


def test_no_afu_loaded_means_no_function(
    builder: SysfsBuilder, driver: IntelFpgaDriver, tmp_path: Path
) -> None:
    fpga.dfl_pac_a10(builder, "0000:af:00.0", afu_id=None, interface_id=IFC)
    (region,) = only(driver.discover()).deployables
    assert region.function_id is None
    assert not [t for t in region.traits if t.startswith("CUSTOM_FPGA_FUNCTION_ID_")]
    assert region.interface_id == IFC


def test_multi_port_card_has_one_region_per_port(
    builder: SysfsBuilder, driver: IntelFpgaDriver, tmp_path: Path
) -> None:
    fpga.dfl_card(builder, "0000:5e:00.0", "0b30", ports=2, afu_id=AFU, interface_id=IFC)

    regions = only(driver.discover()).deployables

    assert [r.name for r in regions] == ["0000:5e:00.0-port0", "0000:5e:00.0-port1"]
    # Without VFs the PF holds every port; it is handed out once.
    assert [r.attach_handles for r in regions] == [[pci("0000:5e:00.0")], []]


def test_unbound_card_is_unusable_with_the_reason(
    builder: SysfsBuilder, driver: IntelFpgaDriver, tmp_path: Path
) -> None:
    fpga.unbound_fpga(builder, N3000)

    device = only(driver.discover())

    assert device.driver is None
    assert device.health.state == "unusable"
    assert device.health.reasons == [f"{N3000} has no kernel driver bound"]
    assert all(d.attach_handles == [] and d.num_accelerators == 0 for d in device.deployables)
    assert driver.health(N3000) == device.health


def test_missing_fme_is_unusable(builder: SysfsBuilder, driver: IntelFpgaDriver, tmp_path: Path) -> None:
    fpga.dfl_card(builder, N3000, "0b30", with_fme=False, afu_id=AFU, interface_id=IFC)

    device = only(driver.discover())

    assert device.health.state == "unusable"
    assert "Management Engine" in device.health.reasons[0]
    assert device.deployables[0].attach_handles == []


def test_unrelated_devices_are_not_reported(
    builder: SysfsBuilder, driver: IntelFpgaDriver, tmp_path: Path
) -> None:
    fpga.pci_bridge(builder, "0000:00:01.0")
    fpga.alveo_u250(builder, "0000:3b:00.0")
    assert driver.discover() == []
    fpga.dfl_n3000(builder, N3000, afu_id=AFU, interface_id=IFC)
    assert [d.pci_address for d in driver.discover()] == [N3000]


def test_set_num_vfs_changes_what_discovery_reports(
    builder: SysfsBuilder, driver: IntelFpgaDriver, tmp_path: Path
) -> None:
    fpga.dfl_card(builder, N3000, "0b30", total_vfs=4, afu_id=AFU, interface_id=IFC)

    driver.set_num_vfs(N3000, 2)
    (region,) = only(driver.discover()).deployables
    assert region.attach_handles == [pci("0000:5e:00.1"), pci("0000:5e:00.2")]
    assert region.num_accelerators == 2

    driver.set_num_vfs(N3000, 0)
    (region,) = only(driver.discover()).deployables
    assert region.attach_handles == [pci(N3000)]


@pytest.mark.parametrize("layout", ["dfl", "opae"])
def test_program_loads_the_afu_and_changes_the_function_trait(
    layout: str, builder: SysfsBuilder, kernel: RecordingKernel, driver: IntelFpgaDriver, tmp_path: Path
) -> None:
    address = "0000:af:00.0"
    if layout == "dfl":
        fpga.dfl_pac_a10(builder, address, afu_id=AFU, interface_id=IFC)
    else:
        fpga.opae_pac_a10(builder, address, afu_id=AFU, interface_id=IFC)
    image = tmp_path / "new.gbs"
    image.write_bytes(build_gbs(NEW_AFU, IFC))

    loaded = driver.program(address, address, image)

    assert loaded == NEW_AFU
    assert kernel.commands == [
        ["fpgaconf", "--bus", "0xaf", "--device", "0x00", "--function", "0x0", str(image)]
    ]
    (region,) = only(driver.discover()).deployables
    assert region.function_id == NEW_AFU
    assert [t for t in region.traits if naming.is_function_trait(t)] == naming.function_traits(
        "intel_fpga", NEW_AFU
    )


def test_program_with_a_gbs_for_another_interface_fails_and_keeps_the_afu(
    builder: SysfsBuilder, driver: IntelFpgaDriver, tmp_path: Path
) -> None:
    fpga.dfl_n3000(builder, N3000, afu_id=AFU, interface_id=IFC)
    image = tmp_path / "foreign.gbs"
    image.write_bytes(build_gbs(NEW_AFU, OTHER_IFC))

    with pytest.raises(ToolFailed, match="Interface id"):
        driver.program(N3000, N3000, image)

    (region,) = only(driver.discover()).deployables
    assert region.function_id == AFU


def test_program_picks_the_addressed_card(
    builder: SysfsBuilder, driver: IntelFpgaDriver, tmp_path: Path
) -> None:
    fpga.dfl_n3000(builder, "0000:5e:00.0", afu_id=AFU, interface_id=IFC)
    fpga.dfl_n3000(builder, "0000:86:00.0", afu_id=AFU, interface_id=IFC)
    image = tmp_path / "new.gbs"
    image.write_bytes(build_gbs(NEW_AFU, IFC))

    driver.program("0000:86:00.0", "0000:86:00.0", image)

    found = {d.pci_address: d.deployables[0].function_id for d in driver.discover()}
    assert found == {"0000:5e:00.0": AFU, "0000:86:00.0": NEW_AFU}


def test_firmware_update_changes_the_version(
    builder: SysfsBuilder, kernel: RecordingKernel, driver: IntelFpgaDriver, tmp_path: Path
) -> None:
    fpga.dfl_n3000(builder, N3000, afu_id=AFU, interface_id=IFC, bitstream_id="0x23000410010309")
    image = tmp_path / "fw.bin"
    image.write_bytes(build_sim_firmware("0x2300011001030f"))

    assert driver.update_firmware(N3000, image) == "0x2300011001030f"

    assert kernel.commands == [["fpgasupdate", str(image), N3000]]
    assert only(driver.discover()).firmware_version == "0x2300011001030f"


def test_bad_firmware_container_fails_and_keeps_the_version(
    builder: SysfsBuilder, driver: IntelFpgaDriver, tmp_path: Path
) -> None:
    fpga.dfl_n3000(builder, N3000, afu_id=AFU, interface_id=IFC, bitstream_id="0x23000410010309")
    image = tmp_path / "fw.bin"
    image.write_bytes(b"not a firmware image")

    with pytest.raises(ToolFailed):
        driver.update_firmware(N3000, image)

    assert only(driver.discover()).firmware_version == "0x23000410010309"
