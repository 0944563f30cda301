"""Xilinx Alveo driver on simulated hosts laid out like XRT's xclmgmt/xocl drivers."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.agent.drivers.xilinx import XilinxDriver
from accord.agent.hostio import ToolFailed
from accord.agent.sim.builder import SysfsBuilder
from accord.agent.sim.firmware import build_sim_firmware
from accord.agent.sim.layouts import fpga
from accord.images.formats.build import build_xclbin
from tests.agent.drivers.conftest import RecordingKernel, only, pci

MGMT = "0000:3b:00.0"
USER = "0000:3b:00.1"
XCLBIN = "3f9ad5e2-8c1b-4d0e-a6b7-0c1d2e3f4a5b"
NEW_XCLBIN = "7e2c4b1a-5d6f-4e8a-9b0c-1d2e3f4a5b6c"
IFC = "15b5a8e7-6a0f-4a1c-9e85-7d2a8f6d6c11"
OTHER_IFC = "862c7020-a250-293e-32d3-f55ef1cee5e8"
SHELL = "xilinx_u250_gen3x16_xdma_shell_3_1"


@pytest.fixture
def driver(kernel: RecordingKernel) -> XilinxDriver:
    return XilinxDriver(kernel.root, kernel)


def test_u250_is_reported_at_the_mgmt_pf_with_the_user_pf_as_handle(
    builder: SysfsBuilder, driver: XilinxDriver, tmp_path: Path
) -> None:
    fpga.alveo_u250(builder, MGMT, xclbin_uuid=XCLBIN, interface_uuid=IFC, numa_node=1)

    device = only(driver.discover())

    assert (device.type, device.vendor, device.product, device.model) == (
        "FPGA",
        "10ee",
        "5004",
        "Alveo U250",
    )
    assert (device.pci_address, device.numa_node, device.driver) == (MGMT, 1, "xclmgmt")
    assert device.firmware_version == SHELL
    assert device.health.state == "ok"
    assert device.vendor_board_info["user_pf"] == USER
    (region,) = device.deployables
    assert region.name == MGMT
    assert (region.resource_class, region.driver_name) == ("FPGA", "xilinx")
    assert region.traits == [
        "CUSTOM_FPGA_XILINX",
        "CUSTOM_FPGA_PRODUCT_ID_5004",
        "CUSTOM_FPGA_FUNCTION_ID_XILINX_3F9AD5E28C1B4D0EA6B70C1D2E3F4A5B",
        "CUSTOM_FPGA_FUNCTION_ID_3F9AD5E28C1B4D0EA6B70C1D2E3F4A5B",
    ]
    assert (region.function_id, region.interface_id) == (XCLBIN, IFC)
    # One accelerator, and only the user PF is handed out; the mgmt PF stays with the host.
    assert region.num_accelerators == 1
    assert region.attach_handles == [pci(USER)]


def test_no_xclbin_loaded_means_no_function(
    builder: SysfsBuilder, driver: XilinxDriver, tmp_path: Path
) -> None:
    fpga.alveo_u250(builder, MGMT, xclbin_uuid=None, interface_uuid=IFC)
    (region,) = only(driver.discover()).deployables
    assert region.function_id is None
    assert region.traits == ["CUSTOM_FPGA_XILINX", "CUSTOM_FPGA_PRODUCT_ID_5004"]


def test_each_model_is_named(builder: SysfsBuilder, driver: XilinxDriver, tmp_path: Path) -> None:
    fpga.alveo(builder, "u200", "0000:17:00.0")
    fpga.alveo(builder, "u280", "0000:65:00.0")
    fpga.alveo(builder, "u50", "0000:d8:00.0")
    found = {(d.pci_address, d.product, d.model) for d in driver.discover()}
    assert found == {
        ("0000:17:00.0", "5000", "Alveo U200"),
        ("0000:65:00.0", "500c", "Alveo U280"),
        ("0000:d8:00.0", "5020", "Alveo U50"),
    }


def test_unrelated_devices_and_the_user_pf_are_not_reported(
    builder: SysfsBuilder, driver: XilinxDriver, tmp_path: Path
) -> None:
    fpga.pci_bridge(builder, "0000:00:01.0")
    fpga.dfl_n3000(builder, "0000:5e:00.0", interface_id=IFC)
    assert driver.discover() == []
    fpga.alveo_u250(builder, MGMT)
    assert [d.pci_address for d in driver.discover()] == [MGMT]


def test_unbound_mgmt_pf_is_unusable(builder: SysfsBuilder, driver: XilinxDriver, tmp_path: Path) -> None:
    fpga.alveo_u250(builder, MGMT, mgmt_driver=None)

    device = only(driver.discover())

    assert device.health.state == "unusable"
    assert device.health.reasons == [f"{MGMT} has no kernel driver bound"]
    assert device.deployables[0].attach_handles == []
    assert device.deployables[0].num_accelerators == 0
    assert driver.health(MGMT) == device.health


def test_program_loads_the_xclbin(
    builder: SysfsBuilder, kernel: RecordingKernel, driver: XilinxDriver, tmp_path: Path
) -> None:
    fpga.alveo_u250(builder, MGMT, xclbin_uuid=XCLBIN, interface_uuid=IFC)
    image = tmp_path / "kernel.xclbin"
    image.write_bytes(build_xclbin(NEW_XCLBIN, IFC, SHELL))

    assert driver.program(MGMT, MGMT, image) == NEW_XCLBIN

    assert kernel.commands == [["xbutil", "program", "--device", USER, "--user", str(image)]]
    (region,) = only(driver.discover()).deployables
    assert region.function_id == NEW_XCLBIN
    assert region.traits[2:] == [
        "CUSTOM_FPGA_FUNCTION_ID_XILINX_7E2C4B1A5D6F4E8A9B0C1D2E3F4A5B6C",
        "CUSTOM_FPGA_FUNCTION_ID_7E2C4B1A5D6F4E8A9B0C1D2E3F4A5B6C",
    ]


def test_program_with_an_xclbin_for_another_shell_fails_and_keeps_the_xclbin(
    builder: SysfsBuilder, driver: XilinxDriver, tmp_path: Path
) -> None:
    fpga.alveo_u250(builder, MGMT, xclbin_uuid=XCLBIN, interface_uuid=IFC)
    image = tmp_path / "foreign.xclbin"
    image.write_bytes(build_xclbin(NEW_XCLBIN, OTHER_IFC, "xilinx_u280_xdma_201920_3"))

    with pytest.raises(ToolFailed, match="interface"):
        driver.program(MGMT, MGMT, image)

    assert only(driver.discover()).deployables[0].function_id == XCLBIN


def test_program_refuses_a_card_without_its_driver(
    builder: SysfsBuilder, kernel: RecordingKernel, driver: XilinxDriver, tmp_path: Path
) -> None:
    fpga.alveo_u250(builder, MGMT, mgmt_driver=None)
    image = tmp_path / "kernel.xclbin"
    image.write_bytes(build_xclbin(NEW_XCLBIN, IFC, SHELL))
    with pytest.raises(RuntimeError, match="no kernel driver"):
        driver.program(MGMT, MGMT, image)
    assert kernel.commands == []


def test_shell_flash_changes_the_firmware_version(
    builder: SysfsBuilder, kernel: RecordingKernel, driver: XilinxDriver, tmp_path: Path
) -> None:
    fpga.alveo_u250(builder, MGMT)
    image = tmp_path / "shell.xsabin"
    image.write_bytes(build_sim_firmware("xilinx_u250_gen3x16_xdma_shell_4_1"))

    assert driver.update_firmware(MGMT, image) == "xilinx_u250_gen3x16_xdma_shell_4_1"

    assert kernel.commands == [["xbmgmt", "program", "--device", MGMT, "--base", "--image", str(image)]]
    assert only(driver.discover()).firmware_version == "xilinx_u250_gen3x16_xdma_shell_4_1"


def test_bad_shell_image_fails_and_keeps_the_version(
    builder: SysfsBuilder, driver: XilinxDriver, tmp_path: Path
) -> None:
    fpga.alveo_u250(builder, MGMT)
    image = tmp_path / "shell.xsabin"
    image.write_bytes(b"\0" * 64)

    with pytest.raises(ToolFailed):
        driver.update_firmware(MGMT, image)

    assert only(driver.discover()).firmware_version == SHELL
