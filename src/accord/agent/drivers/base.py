"""The one interface every driver family implements.

Drivers read everything under an injectable sysfs root, so tests run them on fixture trees laid
out like the kernel's. Operation hooks a family cannot perform raise OperationNotSupported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from accord.schemas.inventory import DeviceReport, Health


class OperationNotSupported(Exception):
    """This driver family cannot perform the operation on its devices."""


@dataclass(frozen=True)
class DriverConfig:
    """What an operator tells the agent about this host (agent options / config file).

    passthrough: like Nova's passthrough whitelist, `vendor:product` ("10ee:5000", "1af4:*")
    or `class:<hex prefix>` ("class:0b40"), for the generic PCI family.
    physnets: the physical network of each SR-IOV NIC, keyed by PF PCI address or netdev name.
    """

    passthrough: tuple[str, ...] = ()
    physnets: dict[str, str] = field(default_factory=dict)


class Driver(Protocol):
    name: str

    def discover(self, root: Path) -> list[DeviceReport]: ...

    def health(self, root: Path, pci_address: str) -> Health: ...

    def create_mdev(self, root: Path, pci_address: str, mdev_type: str, mdev_uuid: str) -> None: ...

    def remove_mdev(self, root: Path, pci_address: str, mdev_uuid: str) -> None: ...

    def set_num_vfs(self, root: Path, pci_address: str, count: int) -> None: ...

    def program(self, root: Path, pci_address: str, region: str, image_path: Path) -> str: ...

    def update_firmware(self, root: Path, pci_address: str, image_path: Path) -> str: ...
