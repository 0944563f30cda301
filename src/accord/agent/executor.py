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
from typing import Any, Protocol

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
    def __init__(self, root: Path, drivers: Sequence[OperationDriver]) -> None:
        self.root = root
        self.drivers = drivers
        self.handlers: dict[str, Handler] = {
            "create_mdev": self._create_mdev,
            "remove_mdev": self._remove_mdev,
            "set_vfs": self._set_vfs,
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
        except Exception as exc:
            log.warning("operation %s (%s) failed: %s", operation.get("uuid"), kind, exc)
            return Outcome(False, error=f"{type(exc).__name__}: {exc}")

    def _create_mdev(self, driver: OperationDriver, params: dict[str, Any]) -> dict[str, Any]:
        driver.create_mdev(self.root, params["pci_address"], params["mdev_type"], params["mdev_uuid"])
        return {"mdev_uuid": params["mdev_uuid"]}

    def _remove_mdev(self, driver: OperationDriver, params: dict[str, Any]) -> dict[str, Any]:
        driver.remove_mdev(self.root, params["pci_address"], params["mdev_uuid"])
        return {"removed": params["mdev_uuid"]}

    def _set_vfs(self, driver: OperationDriver, params: dict[str, Any]) -> dict[str, Any]:
        count = int(params["count"])
        driver.set_num_vfs(self.root, params["pci_address"], count)
        return {"num_vfs": count}
