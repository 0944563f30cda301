"""DFL port assign/release on the simulated N3000: a port released to its VF is taken back through
the PF (SR-IOV off first, as the kernel requires), never from a VF that is passed through, and
the AFU the region holds survives the round trip."""

from __future__ import annotations

import pytest

from accord.agent.drivers.intel_fpga import IntelFpgaDriver
from accord.agent.hostio import ToolFailed
from accord.agent.sim.builder import SysfsBuilder
from accord.agent.sim.layouts import fpga
from tests.agent.drivers.conftest import RecordingKernel, only, pci

AFU = "d8424dc4-a4a3-c413-f89e-433683f9040b"
IFC = "9926ab6d-6c92-5a68-aabc-a7d84c545738"
N3000 = "0000:5e:00.0"
VF = "0000:5e:00.1"


@pytest.fixture
def driver(kernel: RecordingKernel) -> IntelFpgaDriver:
    return IntelFpgaDriver(kernel.root, kernel)


def test_a_released_port_shows_under_its_vf_and_comes_back_to_the_pf(
    builder: SysfsBuilder, kernel: RecordingKernel, driver: IntelFpgaDriver
) -> None:
    fpga.dfl_n3000(builder, N3000, afu_id=AFU, interface_id=IFC)
    assert fpga.released_to_vf(builder, N3000) == VF
    [region] = only(driver.discover()).deployables
    assert region.function_id == AFU and region.attach_handles == [pci(VF)]

    assert driver.reclaim_ports(N3000) == [0]
    assert set(kernel.writes) == {("sriov_numvfs", "0")}  # SR-IOV off before the assign
    assert kernel.commands == [["fpgaport", "assign", N3000, "0"]]
    [region] = only(driver.discover()).deployables
    assert region.function_id == AFU and region.attach_handles == [pci(N3000)]
    assert driver.reclaim_ports(N3000) == []  # nothing away: nothing done


def test_a_port_passed_through_to_a_vm_is_not_taken(builder: SysfsBuilder, driver: IntelFpgaDriver) -> None:
    fpga.dfl_n3000(builder, N3000, afu_id=AFU, interface_id=IFC)
    fpga.released_to_vf(builder, N3000)
    builder.bind_driver(VF, "vfio-pci")
    with pytest.raises(RuntimeError, match="passed through"):
        driver.reclaim_ports(N3000)
    assert not list(builder.device_dir(N3000).glob("fpga_region/region*/dfl-port.*"))


def test_the_tool_refuses_while_sriov_is_on_or_the_port_is_not_away(
    builder: SysfsBuilder, kernel: RecordingKernel
) -> None:
    fpga.dfl_n3000(builder, N3000, afu_id=AFU, interface_id=IFC, vfs=1)
    with pytest.raises(ToolFailed, match="disable SR-IOV first"):
        kernel.run(["fpgaport", "release", N3000, "0"])
    kernel.write(builder.device_dir(N3000) / "sriov_numvfs", "0")
    with pytest.raises(ToolFailed, match="not released"):
        kernel.run(["fpgaport", "assign", N3000, "0"])
    kernel.run(["fpgaport", "release", N3000, "0"])
    with pytest.raises(ToolFailed, match="not assigned"):
        kernel.run(["fpgaport", "release", N3000, "0"])
