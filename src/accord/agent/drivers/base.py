"""The one interface every driver family implements.

Drivers read everything under an injectable sysfs root, so tests run them on fixture trees laid
out like the kernel's. Operation hooks a family cannot perform raise OperationNotSupported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from accord.schemas.inventory import DeviceReport, Health


class OperationNotSupported(Exception):
    """This driver family cannot perform the operation on its devices."""


class Driver(Protocol):
    name: str

    def discover(self, root: Path) -> list[DeviceReport]: ...

    def health(self, root: Path, pci_address: str) -> Health: ...

    def create_mdev(self, root: Path, pci_address: str, mdev_type: str, mdev_uuid: str) -> None: ...

    def remove_mdev(self, root: Path, pci_address: str, mdev_uuid: str) -> None: ...

    def set_num_vfs(self, root: Path, pci_address: str, count: int) -> None: ...

    def program(self, root: Path, pci_address: str, region: str, image_path: Path) -> str: ...

    def update_firmware(self, root: Path, pci_address: str, image_path: Path) -> str: ...
