"""Driver registry and whole-host discovery.

Each family is built for one host (sysfs root, HostIO, config) and implements the capabilities
of `accord.agent.drivers.base` its hardware has.

`discover_host` runs every driver and never lets one failing driver (or one device it cannot
read) hide the rest of the host: a driver that raises is skipped with the reason logged and
returned, and a device claimed by an earlier (more specialised) driver is not reported twice.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from pathlib import Path

from accord.agent.drivers.base import (
    Discovers,
    Driver,
    DriverConfig,
    FlashesFirmware,
    ManagesMdevs,
    ManagesVfs,
    OperationNotSupported,
    ProbesHealth,
    Programs,
    capabilities,
)
from accord.agent.hostio import HostIO, KernelIO
from accord.agent.sysfs import one_scan
from accord.schemas.inventory import DeviceReport

__all__ = [
    "Discovers",
    "Driver",
    "DriverConfig",
    "FlashesFirmware",
    "ManagesMdevs",
    "ManagesVfs",
    "OperationNotSupported",
    "ProbesHealth",
    "Programs",
    "all_drivers",
    "capabilities",
    "discover_host",
    "host_io",
]

log = logging.getLogger(__name__)

# Emulations of vendor tools (fpgaconf, xbmgmt, flash utilities), registered on import.
SIMULATED_TOOL_MODULES = ("accord.agent.sim.tools_fpga",)


def host_io(root: Path, simulate: bool) -> HostIO:
    """The real kernel, or the simulated one that applies operations inside the fixture tree."""
    if not simulate:
        return KernelIO()
    from accord.agent.sim.kernel import SimulatedKernel

    for module in SIMULATED_TOOL_MODULES:
        importlib.import_module(module)
    return SimulatedKernel(root)


def all_drivers(
    root: Path = Path("/"), simulate: bool = False, config: DriverConfig | None = None
) -> list[Driver]:
    """The driver families this agent runs, most specialised first: the generic PCI family comes
    last so an allow-listed NIC or FPGA is still reported by its own family."""
    from accord.agent.drivers.generic_pci import GenericPciDriver
    from accord.agent.drivers.intel_fpga import IntelFpgaDriver
    from accord.agent.drivers.nvidia_gpu import NvidiaGpuDriver, load_nvml
    from accord.agent.drivers.qat import QatDriver
    from accord.agent.drivers.sriov_nic import SriovNicDriver
    from accord.agent.drivers.xilinx import XilinxDriver

    io = host_io(root, simulate)
    config = config or DriverConfig()
    return [
        IntelFpgaDriver(root, io, config),
        XilinxDriver(root, io, config),
        NvidiaGpuDriver(root, io, config, None if simulate else load_nvml()),
        QatDriver(root, io, config),
        SriovNicDriver(root, io, config),
        GenericPciDriver(root, io, config),
    ]


def discover_host(drivers: Sequence[Discovers]) -> tuple[list[DeviceReport], list[str]]:
    devices: dict[str, DeviceReport] = {}
    skipped: list[str] = []
    with one_scan():
        for driver in drivers:
            _discover_one(driver, devices, skipped)
    return sorted(devices.values(), key=lambda d: d.pci_address), skipped


def _discover_one(driver: Discovers, devices: dict[str, DeviceReport], skipped: list[str]) -> None:
    try:
        found = driver.discover()
    except Exception as exc:
        reason = f"driver {driver.name} failed: {type(exc).__name__}: {exc}"
        log.warning(reason)
        skipped.append(reason)
        return
    for device in found:
        if device.pci_address not in devices:  # else claimed by a more specialised driver
            devices[device.pci_address] = device
