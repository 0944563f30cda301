"""Driver registry and whole-host discovery.

`discover_host` runs every driver and never lets one failing driver (or one device it cannot
read) hide the rest of the host: a driver that raises is skipped with the reason logged and
returned, and a device claimed by an earlier (more specialised) driver is not reported twice.

No driver family is registered yet (the sysfs drivers are the host-agent issue's work), so an
agent today reports an empty host, heartbeats, and carries out operations for nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from accord.agent.drivers.base import Driver, OperationNotSupported
from accord.schemas.inventory import DeviceReport

__all__ = ["Driver", "OperationNotSupported", "all_drivers", "discover_host"]

log = logging.getLogger(__name__)


def all_drivers(simulate: bool = False) -> list[Driver]:
    """The driver families this agent runs, most specialised first."""
    del simulate  # no family has a simulated backend yet
    return []


def discover_host(root: Path, drivers: Sequence[Driver]) -> tuple[list[DeviceReport], list[str]]:
    devices: dict[str, DeviceReport] = {}
    skipped: list[str] = []
    for driver in drivers:
        try:
            found = driver.discover(root)
        except Exception as exc:
            reason = f"driver {driver.name} failed: {type(exc).__name__}: {exc}"
            log.warning(reason)
            skipped.append(reason)
            continue
        for device in found:
            if device.pci_address in devices:
                continue  # claimed by a more specialised driver
            devices[device.pci_address] = device
    return sorted(devices.values(), key=lambda d: d.pci_address), skipped
