"""Execute the operations the server queues for this host, through the drivers.

Each operation names the device by PCI address; the executor asks the drivers which of them
reported that device and calls its hook. Results go back to the server, failures with the
reason, so the ARQ or operator waiting on it learns why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

from accord.agent import imaging
from accord.agent.imaging import Fetch

log = logging.getLogger(__name__)


class OperationDriver(Protocol):
    name: str

    def discover(self, root: Path) -> Sequence[Any]: ...

    def create_mdev(self, root: Path, pci_address: str, mdev_type: str, mdev_uuid: str) -> None: ...

    def remove_mdev(self, root: Path, pci_address: str, mdev_uuid: str) -> None: ...

    def set_num_vfs(self, root: Path, pci_address: str, count: int) -> None: ...


class OperationFailed(Exception):
    """The operation could not be carried out; the message says why."""


@dataclass
class Outcome:
    succeeded: bool
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


Handler = Callable[[OperationDriver, dict[str, Any]], dict[str, Any]]


class Executor:
    def __init__(
        self, root: Path, drivers: Sequence[OperationDriver], hostname: str = "", fetch: Fetch | None = None
    ) -> None:
        self.root = root
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

    def driver_for(self, pci_address: str) -> OperationDriver:
        for driver in self.drivers:
            try:
                devices = driver.discover(self.root)
            except Exception:
                log.exception("driver %s failed to discover", driver.name)
                continue
            if any(getattr(d, "pci_address", None) == pci_address for d in devices):
                return driver
        raise OperationFailed(f"no driver on this host reports device {pci_address}")

    def execute(self, operation: dict[str, Any]) -> Outcome:
        kind = operation.get("kind", "")
        params = operation.get("params") or {}
        handler = self.handlers.get(kind)
        if handler is None:
            return Outcome(False, error=f"this agent cannot perform {kind!r} operations")
        try:
            driver = self.driver_for(str(params.get("pci_address", "")))
            return Outcome(True, handler(driver, params))
        except imaging.FlashFailedButRestored as exc:
            return Outcome(False, {"restored": True, "version": exc.version}, str(exc))
        except Exception as exc:
            log.warning("operation %s (%s) failed: %s", operation.get("uuid"), kind, exc)
            return Outcome(False, error=f"{type(exc).__name__}: {exc}")

    def _create_mdev(self, driver: OperationDriver, params: dict[str, Any]) -> dict[str, Any]:
        driver.create_mdev(self.root, params["pci_address"], params["mdev_type"], params["mdev_uuid"])
        return {"mdev_uuid": params["mdev_uuid"]}

    def _remove_mdev(self, driver: OperationDriver, params: dict[str, Any]) -> dict[str, Any]:
        driver.remove_mdev(self.root, params["pci_address"], params["mdev_uuid"])
        return {"removed": params["mdev_uuid"]}

    def _region_interface(self, driver: OperationDriver, params: dict[str, Any]) -> str | None:
        region = imaging.local_region(params.get("region", ""), self.hostname)
        for device in driver.discover(self.root):
            if getattr(device, "pci_address", None) != params["pci_address"]:
                continue
            for deployable in getattr(device, "deployables", []):
                if deployable.name == region:
                    return cast(str | None, deployable.interface_id)
        raise OperationFailed(f"device {params['pci_address']} has no region {region!r}")

    def _program(self, driver: OperationDriver, params: dict[str, Any]) -> dict[str, Any]:
        if self.fetch is None:
            raise OperationFailed("this agent cannot download images")
        interface = self._region_interface(driver, params)
        return imaging.program(
            cast(imaging.ImagingDriver, driver), self.root, self.fetch, params, interface, self.hostname
        )

    def _firmware(self, driver: OperationDriver, params: dict[str, Any]) -> dict[str, Any]:
        if self.fetch is None:
            raise OperationFailed("this agent cannot download images")
        return imaging.flash(cast(imaging.ImagingDriver, driver), self.root, self.fetch, params)

    def _set_vfs(self, driver: OperationDriver, params: dict[str, Any]) -> dict[str, Any]:
        count = int(params["count"])
        driver.set_num_vfs(self.root, params["pci_address"], count)
        return {"num_vfs": count}
