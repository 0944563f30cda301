"""Return every card of the node to the operator's baseline between tenants: vGPUs removed,
AFU ports taken back from their VFs, VFs off; then (when the operator names a baseline image)
every fitting FPGA region programmed with it, through the server like any programming."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from accord.agent.drivers.base import ManagesMdevs, ManagesVfs
from accord.agent.drivers.intel_fpga import IntelFpgaDriver
from accord.agent.sysfs import read_int
from accord.ironic.node import NodeHost

MDEV_DEVICES = ("sys", "bus", "mdev", "devices")
PCI_DEVICES = ("sys", "bus", "pci", "devices")


def _pf_of(function_dir: str) -> str:
    physfn = os.path.join(function_dir, "physfn")
    return (
        os.path.basename(os.path.realpath(physfn))
        if os.path.islink(physfn)
        else os.path.basename(function_dir)
    )


def reset_node(host: NodeHost, root: Path, baseline_image: str | None) -> dict[str, Any]:
    summary: dict[str, Any] = {"mdevs_removed": [], "ports_reclaimed": {}, "vfs_disabled": []}
    with host.talking():
        host.report()  # the server sees the tenant's leftovers before they go
    devices = host.devices_by_driver()
    owners = {device.pci_address: driver for driver, device in devices}
    mdevs = os.path.join(root, *MDEV_DEVICES)
    for name in sorted(os.listdir(mdevs)) if os.path.isdir(mdevs) else []:
        pf = _pf_of(os.path.dirname(os.path.realpath(os.path.join(mdevs, name))))
        driver = owners.get(pf)
        if isinstance(driver, ManagesMdevs):
            driver.remove_mdev(pf, name)
            summary["mdevs_removed"].append(name)
    for driver, device in devices:
        address = device.pci_address
        if isinstance(driver, IntelFpgaDriver):
            taken = driver.reclaim_ports(address)
            if taken:
                summary["ports_reclaimed"][address] = taken
        vfs = read_int(root.joinpath(*PCI_DEVICES, address, "sriov_numvfs")) or 0
        if vfs and isinstance(driver, ManagesVfs):
            driver.set_num_vfs(address, 0)
            summary["vfs_disabled"].append(address)
    if baseline_image:
        summary["programmed"] = host.run("program", baseline_image, None)
    else:
        with host.talking():
            host.report()
    return summary
