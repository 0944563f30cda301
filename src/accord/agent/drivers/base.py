"""What a driver family can do, as small capabilities it implements only where its hardware can.

Every family discovers and probes health; beyond that each implements what its devices offer:
VFs (`ManagesVfs`), mediated devices (`ManagesMdevs`), programming a region (`Programs`),
flashing firmware (`FlashesFirmware`). The executor checks the capability before it touches
anything, so an operation a family cannot do fails with "driver X cannot …".

A driver is built for one host: the sysfs root it reads, the HostIO it changes the host through
and the operator's DriverConfig are given to its constructor, so no method takes a root and
tests run a driver on a fixture tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from accord.schemas.inventory import DeviceReport, Health


class OperationNotSupported(Exception):
    """The operation cannot be done on this device (no capability, or not on this one device)."""


@dataclass(frozen=True)
class DriverConfig:
    """What an operator tells the agent about this host (agent options / config file).

    passthrough: like Nova's passthrough whitelist, `vendor:product` ("10ee:5000", "1af4:*")
    or `class:<hex prefix>` ("class:0b40"), for the generic PCI family.
    physnets: the physical network of each SR-IOV NIC, keyed by PF PCI address or netdev name.
    vgpu_types: the vGPU type to mirror for a GPU (as Nova's enabled_mdev_types), keyed by PCI
    address, product id ("1eb8") or model ("Tesla T4"); an operator's pin on the server wins.
    """

    passthrough: tuple[str, ...] = ()
    physnets: dict[str, str] = field(default_factory=dict)
    vgpu_types: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Discovers(Protocol):
    """Every family: the devices it claims on this host, each by its PCI address."""

    name: str

    def discover(self) -> list[DeviceReport]: ...


@runtime_checkable
class ProbesHealth(Protocol):
    def health(self, pci_address: str) -> Health: ...


@runtime_checkable
class ManagesVfs(Protocol):
    def set_num_vfs(self, pci_address: str, count: int) -> None: ...


@runtime_checkable
class ManagesMdevs(Protocol):
    def create_mdev(self, pci_address: str, mdev_type: str, mdev_uuid: str) -> None: ...

    def remove_mdev(self, pci_address: str, mdev_uuid: str) -> None: ...


@runtime_checkable
class Programs(Protocol):
    def program(self, pci_address: str, region: str, image_path: Path) -> str:
        """Load the image into the region; return the function id read back afterwards."""
        ...


@runtime_checkable
class FlashesFirmware(Protocol):
    def update_firmware(self, pci_address: str, image_path: Path) -> str:
        """Flash the image; return the firmware version read back afterwards."""
        ...


class Driver(Discovers, ProbesHealth, Protocol):
    """What every family implements; the other capabilities are checked where they are used."""


def capabilities(driver: object) -> frozenset[str]:
    """The capability names a driver implements, e.g. {"Discovers", "ProbesHealth", "ManagesVfs"}."""
    every = (Discovers, ProbesHealth, ManagesVfs, ManagesMdevs, Programs, FlashesFirmware)
    return frozenset(c.__name__ for c in every if isinstance(driver, c))
