"""The SR-IOV NIC driver on fixture hosts laid out like the kernel's."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.agent.drivers.base import DriverConfig, OperationNotSupported
from accord.agent.drivers.sriov_nic import SriovNicDriver
from accord.agent.sim.builder import SysfsBuilder
from accord.agent.sim.layouts.qat_nic import (
    connectx6,
    e810,
    i350,
    qat_c62x,
    qat_nic_host,
    server_plumbing,
    x710,
)
from accord.agent.sysfs import read_function
from accord.schemas.inventory import (
    AttachHandleReport,
    ControlPathId,
    DeployableReport,
    DeviceReport,
    Health,
)
from tests.agent.drivers.conftest import RecordingKernel

E810 = "0000:17:00.0"
CX6 = "0000:3b:00.0"
# The E810 layout's PF MAC (Intel's OUI and the PF's address) and VPD serial (that MAC, as Intel prints it).
E810_MAC = "b4:96:91:17:00:00"
E810_SERIAL = "B49691170000"


def nic(
    root: Path, physnets: dict[str, str] | None = None, passthrough: tuple[str, ...] = ()
) -> tuple[SriovNicDriver, RecordingKernel]:
    io = RecordingKernel(root)
    config = DriverConfig(passthrough=passthrough, physnets=physnets or {})
    return SriovNicDriver(root, io, config), io


def vf_handle(
    device: str, function: str, physnet: str | None, vf_num: int | None = None
) -> AttachHandleReport:
    """An E810 VF's handle; with `vf_num`, also the SmartNIC facts Nova names."""
    info = {"domain": "0000", "bus": "17", "device": device, "function": function}
    if physnet:
        info["physical_network"] = physnet
    if vf_num is not None:
        info |= {"card_serial_number": E810_SERIAL, "pf_mac_address": E810_MAC, "vf_num": str(vf_num)}
    return AttachHandleReport(attach_type="PCI", attach_info=info)


def test_e810_with_vfs_exact_report(tmp_path: Path) -> None:
    e810(SysfsBuilder(tmp_path), E810, vfs=2, ifname="ens1f0", numa_node=1)
    driver, _ = nic(tmp_path, physnets={E810: "physnet1"})

    assert driver.discover() == [
        DeviceReport(
            type="NIC",
            vendor="8086",
            product="159b",
            model="Intel Ethernet E810-XXV SFP",
            pci_address=E810,
            numa_node=1,
            driver="ice",
            firmware_version=None,  # ice shows it through devlink, not sysfs
            health=Health(),
            controlpath_id=ControlPathId(
                cpid_info={"domain": "0000", "bus": "17", "device": "00", "function": "0"}
            ),
            vendor_board_info={
                "pci_address": E810,
                "vendor_id": "8086",
                "product_id": "159b",
                "subsystem_vendor_id": "0000",
                "subsystem_device_id": "0000",
                "class": "020000",
                "netdev": "ens1f0",
                "physical_network": "physnet1",
                "sriov_numvfs": "2",
                "sriov_totalvfs": "128",
            },
            deployables=[
                DeployableReport(
                    name=E810,
                    num_accelerators=2,
                    resource_class="CUSTOM_NIC",
                    traits=["CUSTOM_VF", "CUSTOM_NIC_INTEL", "CUSTOM_NIC_PRODUCT_ID_159B", "CUSTOM_PHYSNET1"],
                    driver_name="sriov_nic",
                    # VFs start 8 devfns after the PF (17:01.0), each with the physnet, the
                    # card's VPD serial, the PF's MAC and its virtfn number.
                    attach_handles=[vf_handle("01", "0", "physnet1", 0), vf_handle("01", "1", "physnet1", 1)],
                )
            ],
        )
    ]


def test_physnet_by_netdev_name_is_sanitized_into_a_trait(tmp_path: Path) -> None:
    e810(SysfsBuilder(tmp_path), E810, vfs=1, ifname="ens1f0")
    driver, _ = nic(tmp_path, physnets={"ens1f0": "data-net.1"})

    [deployable] = driver.discover()[0].deployables
    assert deployable.traits[-1] == "CUSTOM_DATA_NET_1"
    assert deployable.attach_handles == [vf_handle("01", "0", "data-net.1", 0)]


def test_address_wins_over_netdev_name(tmp_path: Path) -> None:
    e810(SysfsBuilder(tmp_path), E810, vfs=1, ifname="ens1f0")
    driver, _ = nic(tmp_path, physnets={"ens1f0": "by-name", E810: "by-address"})
    assert driver.discover()[0].deployables[0].attach_handles == [vf_handle("01", "0", "by-address", 0)]


def test_no_physnet_still_reported_without_physnet_key_or_trait(tmp_path: Path) -> None:
    e810(SysfsBuilder(tmp_path), E810, vfs=1)
    driver, _ = nic(tmp_path, physnets={"ens9f9": "elsewhere"})

    [device] = driver.discover()
    [deployable] = device.deployables
    assert deployable.traits == ["CUSTOM_VF", "CUSTOM_NIC_INTEL", "CUSTOM_NIC_PRODUCT_ID_159B"]
    assert deployable.attach_handles == [vf_handle("01", "0", None, 0)]
    assert "physical_network" not in device.vendor_board_info


def test_physnet_without_trait_safe_characters_gets_no_trait(tmp_path: Path) -> None:
    e810(SysfsBuilder(tmp_path), E810, vfs=1)
    driver, _ = nic(tmp_path, physnets={E810: "---"})

    [deployable] = driver.discover()[0].deployables
    assert deployable.traits == ["CUSTOM_VF", "CUSTOM_NIC_INTEL", "CUSTOM_NIC_PRODUCT_ID_159B"]
    assert deployable.attach_handles == [vf_handle("01", "0", "---", 0)]


def test_nic_without_vfs_is_not_reported_unless_allow_listed(tmp_path: Path) -> None:
    b = SysfsBuilder(tmp_path)
    connectx6(b, CX6, vfs=0)
    i350(b)
    driver, _ = nic(tmp_path)
    assert driver.discover() == []

    listed, _ = nic(tmp_path, passthrough=("15b3:101d",))
    [device] = listed.discover()
    assert device.pci_address == CX6
    assert device.model == "Mellanox ConnectX-6 Dx"
    assert device.firmware_version == "22.36.1010"  # infiniband/mlx5_0/fw_ver
    assert device.deployables[0].num_accelerators == 0
    assert device.deployables[0].attach_handles == []


def test_plumbing_and_other_accelerators_are_never_reported(tmp_path: Path) -> None:
    b = SysfsBuilder(tmp_path)
    server_plumbing(b)
    qat_c62x(b, "0000:3d:00.0", vfs=4)
    # Even a vendor wildcard does not make a non-Ethernet function a NIC.
    driver, _ = nic(tmp_path, passthrough=("8086:*",))
    assert [d.pci_address for d in driver.discover()] == ["0000:02:00.0"]  # only the I350
    plain, _ = nic(tmp_path)
    assert plain.discover() == []


def test_mixed_host(tmp_path: Path) -> None:
    qat_nic_host(tmp_path)
    driver, _ = nic(tmp_path, physnets={"ens1f0": "physnet1"})
    assert [(d.pci_address, d.deployables[0].num_accelerators) for d in driver.discover()] == [(E810, 2)]


def test_each_vf_is_one_accelerator_and_unknown_nics_with_vfs_count_too(tmp_path: Path) -> None:
    b = SysfsBuilder(tmp_path)
    x710(b, "0000:af:00.0", vfs=5)
    b.pci("0000:d8:00.0", "14e4", "16d7", "020000", "bnxt_en")  # a Broadcom NIC not in the table
    b.sriov("0000:d8:00.0", total=8, vf_device="16dc", enabled=3, vf_driver="bnxt_en")
    driver, _ = nic(tmp_path)

    x, other = driver.discover()
    assert x.model == "Intel Ethernet X710"
    assert x.deployables[0].num_accelerators == 5
    assert len(x.deployables[0].attach_handles) == 5
    assert other.model == "Ethernet 14e4:16d7"
    assert other.deployables[0].traits[:2] == ["CUSTOM_VF", "CUSTOM_NIC_14E4"]
    assert other.deployables[0].num_accelerators == 3


def test_no_driver_is_unusable_with_reason(tmp_path: Path) -> None:
    e810(SysfsBuilder(tmp_path), E810, driver=None, ifname=None)
    driver, io = nic(tmp_path, passthrough=("8086:159b",))

    [device] = driver.discover()
    assert device.health == Health(state="unusable", reasons=[f"{E810} has no kernel driver bound"])
    with pytest.raises(OperationNotSupported, match="no kernel driver bound"):
        driver.set_num_vfs(E810, 2)
    assert io.writes == []


def test_set_num_vfs_through_the_kernel(tmp_path: Path) -> None:
    e810(SysfsBuilder(tmp_path), E810, vfs=0)
    driver, io = nic(tmp_path, passthrough=("8086:159b",))

    driver.set_num_vfs(E810, 4)
    assert io.writes == [("sriov_numvfs", "4")]
    assert driver.discover()[0].deployables[0].num_accelerators == 4
    assert read_function(tmp_path, "0000:17:01.0").driver == "iavf"

    io.writes.clear()
    driver.set_num_vfs(E810, 2)
    assert io.writes == [("sriov_numvfs", "0"), ("sriov_numvfs", "2")]
    assert read_function(tmp_path, E810).virtfns == ("0000:17:01.0", "0000:17:01.1")


def test_set_num_vfs_over_total_fails_and_leaves_state(tmp_path: Path) -> None:
    connectx6(SysfsBuilder(tmp_path), CX6, vfs=2)
    driver, io = nic(tmp_path)

    with pytest.raises(ValueError, match=r"supports 0\.\.8 VFs, not 9"):
        driver.set_num_vfs(CX6, 9)
    assert io.writes == []
    assert len(read_function(tmp_path, CX6).virtfns) == 2


def test_operations_refuse_nics_it_does_not_manage(tmp_path: Path) -> None:
    i350(SysfsBuilder(tmp_path))
    driver, io = nic(tmp_path)
    with pytest.raises(ValueError, match="not an SR-IOV NIC this agent manages"):
        driver.set_num_vfs("0000:02:00.0", 1)
    with pytest.raises(ValueError, match="not an SR-IOV NIC this agent manages"):
        driver.health("0000:02:00.0")
    assert io.writes == []
