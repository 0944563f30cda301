"""The generic PCI passthrough driver and its allow-list syntax."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.agent.drivers.base import DriverConfig
from accord.agent.drivers.generic_pci import GenericPciDriver, Matcher, parse_passthrough
from accord.agent.sim.builder import SysfsBuilder
from accord.agent.sim.kernel import SimulatedKernel
from accord.agent.sim.layouts.qat_nic import e810, qat_c62x, server_plumbing
from accord.schemas.inventory import (
    AttachHandleReport,
    ControlPathId,
    DeployableReport,
    DeviceReport,
    Health,
)

ALVEO = "0000:86:00.0"


def generic(root: Path, *specs: str) -> GenericPciDriver:
    return GenericPciDriver(root, SimulatedKernel(root), DriverConfig(passthrough=specs))


def addresses(driver: GenericPciDriver, root: Path) -> list[str]:
    return [d.pci_address for d in driver.discover()]


def host(root: Path) -> SysfsBuilder:
    """Plumbing (root port 00:01.0, AHCI 00:17.0, NVMe 5e:00.0, xHCI 00:14.0, I350 02:00.0),
    a QAT C62x with 2 VFs (3d:00.0), an E810 with 2 VFs (17:00.0) and an Alveo-like card."""
    b = SysfsBuilder(root)
    server_plumbing(b)
    qat_c62x(b, "0000:3d:00.0", vfs=2)
    e810(b, "0000:17:00.0", vfs=2)
    b.pci(ALVEO, "10ee", "5000", "120000", "xclmgmt", numa_node=1, subsystem=("10ee", "000e"))
    return b


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("10ee:5000", Matcher(spec="10ee:5000", vendor="10ee", product="5000")),
        (" 10EE:5000 ", Matcher(spec=" 10EE:5000 ", vendor="10ee", product="5000")),
        ("1af4:*", Matcher(spec="1af4:*", vendor="1af4")),
        ("class:0b40", Matcher(spec="class:0b40", class_prefix="0b40")),
        ("class:12", Matcher(spec="class:12", class_prefix="12")),
        ("class:010802", Matcher(spec="class:010802", class_prefix="010802")),
    ],
)
def test_parse_passthrough(spec: str, expected: Matcher) -> None:
    assert parse_passthrough(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty passthrough spec"),
        ("10ee5000", "has no ':'"),
        ("10e:5000", "vendor id must be 4 hex digits"),
        ("0x10ee:5000", "vendor id must be 4 hex digits"),
        ("zzzz:5000", "vendor id must be 4 hex digits"),
        ("*:5000", "vendor id must be 4 hex digits"),
        ("10ee:50", "product id must be 4 hex digits or '\\*'"),
        ("10ee:", "product id must be 4 hex digits or '\\*'"),
        ("10ee:5000:1", "product id must be 4 hex digits or '\\*'"),
        ("class:b40", "class prefix must be 2, 4 or 6 hex digits"),
        ("class:", "class prefix must be 2, 4 or 6 hex digits"),
        ("class:0b40000", "class prefix must be 2, 4 or 6 hex digits"),
    ],
)
def test_parse_passthrough_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_passthrough(spec)


def test_bad_spec_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'10ee-5000' has no ':'"):
        generic(tmp_path, "10ee:5000", "10ee-5000")


def test_nothing_is_reported_without_an_allow_list(tmp_path: Path) -> None:
    host(tmp_path)
    assert generic(tmp_path).discover() == []


def test_allow_listed_device_exact_report(tmp_path: Path) -> None:
    host(tmp_path)
    assert generic(tmp_path, "10ee:5000").discover() == [
        DeviceReport(
            type="AICHIP",  # class 12: processing accelerator
            vendor="10ee",
            product="5000",
            model="PCI 10ee:5000 class 120000",
            pci_address=ALVEO,
            numa_node=1,
            driver="xclmgmt",
            health=Health(),
            controlpath_id=ControlPathId(
                cpid_info={"domain": "0000", "bus": "86", "device": "00", "function": "0"}
            ),
            vendor_board_info={
                "pci_address": ALVEO,
                "vendor_id": "10ee",
                "product_id": "5000",
                "subsystem_vendor_id": "10ee",
                "subsystem_device_id": "000e",
                "class": "120000",
            },
            deployables=[
                DeployableReport(
                    name=ALVEO,
                    num_accelerators=1,
                    resource_class="CUSTOM_PCI",
                    traits=["OWNER_CYBORG", "CUSTOM_PCI_XILINX", "CUSTOM_PCI_PRODUCT_ID_5000"],
                    driver_name="generic_pci",
                    attach_handles=[
                        AttachHandleReport(
                            attach_type="PCI",
                            attach_info={"domain": "0000", "bus": "86", "device": "00", "function": "0"},
                        )
                    ],
                )
            ],
        )
    ]


def test_vendor_wildcard_never_pulls_in_plumbing_or_vfs(tmp_path: Path) -> None:
    host(tmp_path)
    # 8086:* matches the root port, AHCI, NVMe, xHCI, I350, QAT and E810 PFs and their VFs;
    # only the non-plumbing PFs are offered.
    assert addresses(generic(tmp_path, "8086:*"), tmp_path) == [
        "0000:02:00.0",
        "0000:17:00.0",
        "0000:3d:00.0",
    ]


def test_plumbing_only_when_named_exactly(tmp_path: Path) -> None:
    host(tmp_path)
    assert addresses(generic(tmp_path, "8086:0a54"), tmp_path) == ["0000:5e:00.0"]  # NVMe by id
    assert addresses(generic(tmp_path, "class:0c03"), tmp_path) == ["0000:00:14.0"]  # USB by class
    assert addresses(generic(tmp_path, "class:06"), tmp_path) == ["0000:00:01.0"]  # bridges
    assert addresses(generic(tmp_path, "class:010601"), tmp_path) == ["0000:00:17.0"]  # SATA AHCI


def test_vfs_are_never_devices_even_when_named(tmp_path: Path) -> None:
    host(tmp_path)
    # 37c9 is the C62x VF id, 1889 the E810 VF id.
    assert generic(tmp_path, "8086:37c9", "8086:1889").discover() == []
    # A class spec matching PF and VFs alike yields the PF only.
    assert addresses(generic(tmp_path, "class:0b40"), tmp_path) == ["0000:3d:00.0"]


def test_type_by_class(tmp_path: Path) -> None:
    host(tmp_path)
    b = SysfsBuilder(tmp_path)
    b.pci("0000:65:00.0", "10de", "1eb8", "030200", "nvidia")
    b.pci("0000:66:00.0", "1234", "0001", "118000", None)  # signal processing: default type
    driver = generic(tmp_path, "class:0108", "class:0b40", "class:12", "class:03", "class:02", "1234:0001")
    types = {d.pci_address: d.type for d in driver.discover()}
    assert types == {
        "0000:02:00.0": "NIC",
        "0000:17:00.0": "NIC",
        "0000:3d:00.0": "AICHIP",
        "0000:5e:00.0": "SSD",
        ALVEO: "AICHIP",
        "0000:65:00.0": "GPU",
        "0000:66:00.0": "AICHIP",
    }
    nvidia = next(d for d in driver.discover() if d.vendor == "10de")
    assert nvidia.deployables[0].traits == ["OWNER_CYBORG", "CUSTOM_PCI_NVIDIA", "CUSTOM_PCI_PRODUCT_ID_1EB8"]


def test_unknown_vendor_trait_uses_the_vendor_id(tmp_path: Path) -> None:
    SysfsBuilder(tmp_path).pci("0000:66:00.0", "1d0f", "cd01", "120000", "vfio-pci")
    [device] = generic(tmp_path, "1d0f:*").discover()
    assert device.deployables[0].traits == ["OWNER_CYBORG", "CUSTOM_PCI_1D0F", "CUSTOM_PCI_PRODUCT_ID_CD01"]
    assert device.health == Health()  # vfio-pci is ready for passthrough


def test_no_driver_is_unusable_with_reason(tmp_path: Path) -> None:
    SysfsBuilder(tmp_path).pci(ALVEO, "10ee", "5000", "120000", None)
    driver = generic(tmp_path, "10ee:5000")
    [device] = driver.discover()
    assert device.driver is None
    assert device.health == Health(state="unusable", reasons=[f"{ALVEO} has no kernel driver bound"])
    assert driver.health(ALVEO) == device.health


def test_health_refuses_what_is_not_allow_listed(tmp_path: Path) -> None:
    host(tmp_path)
    driver = generic(tmp_path, "10ee:5000")
    with pytest.raises(ValueError, match="not an allow-listed PCI device"):
        driver.health("0000:00:17.0")
