"""Execute the operations the server queues for this host, through the drivers.

Each operation names the device by PCI address. The executor finds the driver that reports that
device, checks that the driver has the capability the operation needs (`ManagesMdevs`,
`ManagesVfs`, `Programs`, `FlashesFirmware`) and only then calls it: an operation the family
cannot do fails with "driver X cannot …" before anything is downloaded or written. Results go
back to the server, failures with the reason, so the ARQ or operator waiting on it learns why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from accord.agent import imaging
from accord.agent.drivers.base import (
    Discovers,
    FlashesFirmware,
    ManagesMdevs,
    ManagesVfs,
    OperationNotSupported,
    Programs,
)
from accord.agent.imaging import Fetch
from accord.agent.sysfs import one_scan
from accord.schemas.inventory import DeviceReport

log = logging.getLogger(__name__)


class OperationFailed(Exception):
    """The operation could not be carried out; the message says why."""


@dataclass
class Outcome:
    succeeded: bool
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


Handler = Callable[[Discovers, DeviceReport, dict[str, Any]], dict[str, Any]]


def cannot(driver: Discovers, what: str, pci_address: str) -> OperationNotSupported:
    return OperationNotSupported(f"driver {driver.name} cannot {what} (device {pci_address})")


class Executor:
    def __init__(self, drivers: Sequence[Discovers], hostname: str = "", fetch: Fetch | None = None) -> None:
        self.drivers = drivers
        self.hostname = hostname
        self.fetch = fetch
        self.handlers: dict[str, Handler] = {
            "create_mdev": self._create_mdev,
            "remove_mdev": self._remove_mdev,
            "set_vfs": self._set_vfs,
            "program": self._program,
            "firmware": self._firmware,
        }

    def find_device(self, pci_address: str) -> tuple[Discovers, DeviceReport]:
        """The driver that reports the device, most specialised first (as discovery orders them)."""
        with one_scan():
            for driver in self.drivers:
                try:
                    devices = driver.discover()
                except Exception:
                    log.exception("driver %s failed to discover", driver.name)
                    continue
                for device in devices:
                    if device.pci_address == pci_address:
                        return driver, device
        raise OperationFailed(f"no driver on this host reports device {pci_address}")

    def execute(self, operation: dict[str, Any]) -> Outcome:
        kind = operation.get("kind", "")
        params = operation.get("params") or {}
        handler = self.handlers.get(kind)
        if handler is None:
            return Outcome(False, error=f"this agent cannot perform {kind!r} operations")
        try:
            driver, device = self.find_device(str(params.get("pci_address", "")))
            return Outcome(True, handler(driver, device, params))
        except imaging.FlashFailedButRestored as exc:
            return Outcome(False, {"restored": True, "version": exc.version}, str(exc))
        except Exception as exc:
            log.warning("operation %s (%s) failed: %s", operation.get("uuid"), kind, exc)
            return Outcome(False, error=f"{type(exc).__name__}: {exc}")

    def _create_mdev(self, driver: Discovers, _: DeviceReport, params: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(driver, ManagesMdevs):
            raise cannot(driver, "create mediated devices", params["pci_address"])
        driver.create_mdev(params["pci_address"], params["mdev_type"], params["mdev_uuid"])
        return {"mdev_uuid": params["mdev_uuid"]}

    def _remove_mdev(self, driver: Discovers, _: DeviceReport, params: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(driver, ManagesMdevs):
            raise cannot(driver, "remove mediated devices", params["pci_address"])
        driver.remove_mdev(params["pci_address"], params["mdev_uuid"])
        return {"removed": params["mdev_uuid"]}

    def _set_vfs(self, driver: Discovers, _: DeviceReport, params: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(driver, ManagesVfs):
            raise cannot(driver, "change the number of VFs", params["pci_address"])
        count = int(params["count"])
        driver.set_num_vfs(params["pci_address"], count)
        return {"num_vfs": count}

    def _region_interface(self, device: DeviceReport, params: dict[str, Any]) -> str | None:
        region = imaging.local_region(params.get("region", ""), self.hostname)
        for deployable in device.deployables:
            if deployable.name == region:
                return deployable.interface_id
        raise OperationFailed(f"device {params['pci_address']} has no region {region!r}")

    def _program(self, driver: Discovers, device: DeviceReport, params: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(driver, Programs):
            raise cannot(driver, "program a region", params["pci_address"])
        if self.fetch is None:
            raise OperationFailed("this agent cannot download images")
        interface = self._region_interface(device, params)
        return imaging.program(driver, self.fetch, params, interface, self.hostname)

    def _firmware(self, driver: Discovers, _: DeviceReport, params: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(driver, FlashesFirmware):
            raise cannot(driver, "flash firmware", params["pci_address"])
        if self.fetch is None:
            raise OperationFailed("this agent cannot download images")
        return imaging.flash(driver, self.fetch, params)
