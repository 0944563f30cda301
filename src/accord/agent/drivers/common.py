"""Pieces every driver family shares: PCI handles, control-path ids, health from the kernel's
view, and the write-then-verify of `sriov_numvfs`. Trait names come from accord.domain.naming."""

from __future__ import annotations

from pathlib import Path

from accord.agent.drivers.base import OperationNotSupported
from accord.agent.hostio import HostIO
from accord.agent.sysfs import PCI_DEVICES, PciFunction, pci_info, read_function
from accord.schemas.inventory import AttachHandleReport, ControlPathId, Health


def controlpath(function: PciFunction) -> ControlPathId:
    return ControlPathId(cpid_type="PCI", cpid_info=pci_info(function.address))


def pci_handle(address: str, **extra: str) -> AttachHandleReport:
    return AttachHandleReport(attach_type="PCI", attach_info={**pci_info(address), **extra})


def board_info(function: PciFunction) -> dict[str, str]:
    """What the API shows in vendor_board_info: the PCI identity Cyborg's drivers record."""
    return {
        "pci_address": function.address,
        "vendor_id": function.vendor,
        "product_id": function.device,
        "subsystem_vendor_id": function.subsystem_vendor,
        "subsystem_device_id": function.subsystem_device,
        "class": function.pci_class,
    }


def kernel_health(function: PciFunction, driver_names: tuple[str, ...] = ()) -> Health:
    """Unusable when no driver is bound (or a foreign one is), with the reason said plainly."""
    if function.driver is None:
        return Health(state="unusable", reasons=[f"{function.address} has no kernel driver bound"])
    if driver_names and function.driver not in driver_names and function.driver != "vfio-pci":
        expected = ", ".join(driver_names)
        return Health(
            state="unusable",
            reasons=[f"{function.address} is bound to {function.driver}, expected one of {expected}"],
        )
    return Health()


def enabled_vfs(root: Path, function: PciFunction) -> list[PciFunction]:
    return [read_function(root, address) for address in function.virtfns]


def set_num_vfs(io: HostIO, root: Path, pci_address: str, count: int) -> None:
    """The kernel refuses a change between two non-zero counts, so go through 0, then verify."""
    function = read_function(root, pci_address)
    if function.sriov_totalvfs is None:
        raise OperationNotSupported(f"{pci_address} is not SR-IOV capable")
    if not 0 <= count <= function.sriov_totalvfs:
        raise ValueError(f"{pci_address} supports 0..{function.sriov_totalvfs} VFs, not {count}")
    path = root / PCI_DEVICES / pci_address / "sriov_numvfs"
    if function.sriov_numvfs not in (0, count):
        io.write(path, "0")
    if function.sriov_numvfs != count:
        io.write(path, str(count))
    now = read_function(root, pci_address)
    if now.sriov_numvfs != count or len(now.virtfns) != count:
        raise RuntimeError(f"{pci_address}: asked for {count} VFs, the kernel shows {len(now.virtfns)}")
