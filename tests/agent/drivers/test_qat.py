"""The Intel QAT driver on fixture hosts laid out like the kernel's."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.agent.drivers.base import OperationNotSupported
from accord.agent.drivers.qat import QatDriver
from accord.agent.sim.builder import SysfsBuilder
from accord.agent.sim.layouts.qat_nic import e810, qat_4xxx, qat_c62x, server_plumbing
from accord.agent.sysfs import read_function
from accord.schemas.inventory import (
    AttachHandleReport,
    ControlPathId,
    DeployableReport,
    DeviceReport,
    Health,
)
from tests.agent.drivers.conftest import RecordingKernel

C62X = "0000:3d:00.0"
GEN4 = "0000:6b:00.0"


def handle(bus: str, device: str, function: str) -> AttachHandleReport:
    return AttachHandleReport(
        attach_type="PCI",
        attach_info={"domain": "0000", "bus": bus, "device": device, "function": function},
    )


def driver(root: Path) -> tuple[QatDriver, RecordingKernel]:
    io = RecordingKernel(root)
    return QatDriver(root, io), io


def test_c62x_with_vfs_exact_report(tmp_path: Path) -> None:
    b = SysfsBuilder(tmp_path)
    qat_c62x(b, C62X, vfs=2, numa_node=1)
    qat, _ = driver(tmp_path)

    assert qat.discover() == [
        DeviceReport(
            type="QAT",
            vendor="8086",
            product="37c8",
            model="Intel QAT C62X",
            pci_address=C62X,
            numa_node=1,
            driver="c6xx",
            firmware_version=None,
            health=Health(),
            controlpath_id=ControlPathId(
                cpid_info={"domain": "0000", "bus": "3d", "device": "00", "function": "0"}
            ),
            vendor_board_info={
                "pci_address": C62X,
                "vendor_id": "8086",
                "product_id": "37c8",
                "subsystem_vendor_id": "0000",
                "subsystem_device_id": "0000",
                "class": "0b4000",
                "sriov_numvfs": "2",
                "sriov_totalvfs": "16",
            },
            deployables=[
                DeployableReport(
                    name=C62X,
                    num_accelerators=2,
                    resource_class="CUSTOM_QAT",
                    # C62x has no qat/cfg_services, so no service traits.
                    traits=["CUSTOM_QAT", "CUSTOM_QAT_C62X"],
                    driver_name="intel_qat",
                    # C62x VFs start 8 devfns after the PF: 3d:01.0, 3d:01.1
                    attach_handles=[handle("3d", "01", "0"), handle("3d", "01", "1")],
                )
            ],
        )
    ]


def test_4xxx_services_become_traits_and_no_vfs_means_no_accelerators(tmp_path: Path) -> None:
    qat_4xxx(SysfsBuilder(tmp_path), GEN4, vfs=0, services="sym;dc", device="4942")
    qat, _ = driver(tmp_path)

    [device] = qat.discover()
    assert (device.product, device.model, device.driver) == ("4942", "Intel QAT 401XX", "4xxx")
    assert device.health == Health()
    assert device.vendor_board_info["cfg_services"] == "sym;dc"
    assert device.vendor_board_info["state"] == "up"
    [deployable] = device.deployables
    assert deployable.num_accelerators == 0
    assert deployable.attach_handles == []
    assert deployable.traits == ["CUSTOM_QAT", "CUSTOM_QAT_401XX", "CUSTOM_QAT_SYM", "CUSTOM_QAT_DC"]


def test_each_enabled_vf_is_one_accelerator_and_one_handle(tmp_path: Path) -> None:
    qat_4xxx(SysfsBuilder(tmp_path), GEN4, vfs=16)
    qat, _ = driver(tmp_path)

    [deployable] = qat.discover()[0].deployables
    assert deployable.num_accelerators == 16
    addresses = [
        "{domain}:{bus}:{device}.{function}".format(**h.attach_info) for h in deployable.attach_handles
    ]
    assert addresses == list(read_function(tmp_path, GEN4).virtfns)
    assert addresses[0] == "0000:6b:00.1" and addresses[-1] == "0000:6b:02.0"


def test_other_devices_are_never_reported(tmp_path: Path) -> None:
    b = SysfsBuilder(tmp_path)
    server_plumbing(b)
    e810(b, "0000:17:00.0", vfs=2)
    b.pci("0000:80:00.0", "8086", "37c9", "0b4000", "c6xxvf")  # a lone VF id is not a PF
    qat, _ = driver(tmp_path)
    assert qat.discover() == []

    qat_c62x(b, C62X, vfs=1)
    assert [d.pci_address for d in qat.discover()] == [C62X]


def test_state_down_is_unusable_with_reason(tmp_path: Path) -> None:
    qat_4xxx(SysfsBuilder(tmp_path), GEN4, vfs=2, state="down")
    qat, _ = driver(tmp_path)

    [device] = qat.discover()
    assert device.health.state == "unusable"
    assert device.health.reasons == [f"{GEN4}: qat/state is down (device stopped; write 'up' to start it)"]
    assert qat.health(GEN4) == device.health


def test_no_driver_is_unusable_with_reason(tmp_path: Path) -> None:
    qat_c62x(SysfsBuilder(tmp_path), C62X, driver=None)
    qat, _ = driver(tmp_path)

    [device] = qat.discover()
    assert device.driver is None
    assert device.health == Health(state="unusable", reasons=[f"{C62X} has no kernel driver bound"])


def test_foreign_driver_is_unusable(tmp_path: Path) -> None:
    qat_4xxx(SysfsBuilder(tmp_path), GEN4, driver="ice")
    qat, _ = driver(tmp_path)
    health = qat.health(GEN4)
    assert health.state == "unusable"
    assert "bound to ice" in health.reasons[0]


def test_set_num_vfs_through_the_kernel(tmp_path: Path) -> None:
    qat_4xxx(SysfsBuilder(tmp_path), GEN4)
    qat, io = driver(tmp_path)

    qat.set_num_vfs(GEN4, 4)
    assert io.writes == [("sriov_numvfs", "4")]
    assert qat.discover()[0].deployables[0].num_accelerators == 4
    # The new VFs got the VF driver the kernel autoprobes.
    assert read_function(tmp_path, "0000:6b:00.1").driver == "4xxxvf"

    io.writes.clear()
    qat.set_num_vfs(GEN4, 2)  # non-zero to non-zero is EBUSY unless 0 first
    assert io.writes == [("sriov_numvfs", "0"), ("sriov_numvfs", "2")]
    assert len(read_function(tmp_path, GEN4).virtfns) == 2

    io.writes.clear()
    qat.set_num_vfs(GEN4, 2)  # already there: nothing written
    assert io.writes == []


def test_set_num_vfs_over_total_fails_and_leaves_state(tmp_path: Path) -> None:
    qat_c62x(SysfsBuilder(tmp_path), C62X, vfs=3)
    qat, io = driver(tmp_path)

    with pytest.raises(ValueError, match=r"supports 0\.\.16 VFs, not 17"):
        qat.set_num_vfs(C62X, 17)
    assert io.writes == []
    assert len(read_function(tmp_path, C62X).virtfns) == 3


def test_set_num_vfs_refuses_what_is_not_a_qat_pf(tmp_path: Path) -> None:
    b = SysfsBuilder(tmp_path)
    e810(b, "0000:17:00.0", vfs=0)
    qat_c62x(b, C62X, driver=None)
    qat, io = driver(tmp_path)

    with pytest.raises(ValueError, match="not an Intel QAT physical function"):
        qat.set_num_vfs("0000:17:00.0", 1)
    with pytest.raises(ValueError, match="not an Intel QAT physical function"):
        qat.health("0000:99:00.0")
    with pytest.raises(OperationNotSupported, match="no kernel driver bound"):
        qat.set_num_vfs(C62X, 1)
    assert io.writes == []
