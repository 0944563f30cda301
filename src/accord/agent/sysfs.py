"""Read PCI functions the way the kernel lays them out under /sys, below an injectable root.

Only facts the kernel documents are read (Documentation/ABI/testing/sysfs-bus-pci): the
`vendor`/`device`/`class` files, `numa_node`, the `driver` link, SR-IOV's `sriov_*` files and
`virtfnN`/`physfn` links, the `iommu_group` link. A missing or unreadable file is None, never
an exception: one odd device must not hide the rest of the host.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

PCI_DEVICES = Path("sys/bus/pci/devices")
PCI_ADDRESS = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")


def read_text(path: Path) -> str | None:
    try:
        with open(path, "rb") as handle:
            return handle.read(65536).decode().strip()
    except (OSError, UnicodeDecodeError):
        return None


def read_int(path: Path) -> int | None:
    text = read_text(path)
    if text is None:
        return None
    try:
        return int(text, 0)
    except ValueError:
        return None


def link_name(path: Path) -> str | None:
    """The last component of a symlink's target (`driver` -> `ice`), None if not a link."""
    try:
        return os.path.basename(os.readlink(path))
    except OSError:
        return None


def hex_id(path: Path) -> str:
    """`0x10de` -> `10de`; unknown -> `0000`."""
    text = read_text(path) or "0x0000"
    return text.lower().removeprefix("0x").zfill(4)[-4:]


def pci_info(address: str) -> dict[str, str]:
    """Cyborg's split of a PCI address: {"domain","bus","device","function"}."""
    domain, bus, rest = address.split(":")
    device, function = rest.split(".")
    return {"domain": domain, "bus": bus, "device": device, "function": function}


@dataclass(frozen=True, eq=False)
class PciFunction:
    """One PCI function. Identity and class are read at once (every driver filters on them);
    everything else is read on first use, so a scan of 500 functions by six drivers reads the
    rest only for the few devices a driver claims."""

    address: str
    path: Path  # the function's directory under the root (through bus/pci/devices)
    vendor: str
    device: str
    pci_class: str  # six hex digits: base class, subclass, prog-if ("030000")
    physfn: str | None

    @cached_property
    def subsystem_vendor(self) -> str:
        return hex_id(self.path / "subsystem_vendor")

    @cached_property
    def subsystem_device(self) -> str:
        return hex_id(self.path / "subsystem_device")

    @cached_property
    def numa_node(self) -> int | None:
        numa = read_int(self.path / "numa_node")
        # The kernel writes -1 when the platform does not say.
        return numa if numa is not None and numa >= 0 else None

    @cached_property
    def driver(self) -> str | None:
        return link_name(self.path / "driver")

    @cached_property
    def virtfns(self) -> tuple[str, ...]:
        try:
            names = os.listdir(self.path)
        except OSError:
            return ()
        found = []
        for name in names:
            index = name.removeprefix("virtfn")
            if name.startswith("virtfn") and index.isdigit():
                target = link_name(self.path / name)
                if target:
                    found.append((int(index), target))
        return tuple(target for _, target in sorted(found))

    @cached_property
    def sriov_totalvfs(self) -> int | None:
        return read_int(self.path / "sriov_totalvfs")

    @cached_property
    def sriov_numvfs(self) -> int | None:
        return read_int(self.path / "sriov_numvfs")

    @cached_property
    def iommu_group(self) -> str | None:
        return link_name(self.path / "iommu_group")

    @property
    def base_class(self) -> str:
        return self.pci_class[:2]

    @property
    def is_vf(self) -> bool:
        return self.physfn is not None

    @property
    def vendor_product(self) -> str:
        return f"{self.vendor}:{self.device}"


_scan: ContextVar[dict[tuple[str, str], PciFunction] | None] = ContextVar("accord_sysfs_scan", default=None)


@contextmanager
def one_scan() -> Iterator[None]:
    """Within this block every driver sees the same PciFunction objects: each function's files
    are read once per scan, not once per driver."""
    token = _scan.set({})
    try:
        yield
    finally:
        _scan.reset(token)


def read_function(root: Path, address: str) -> PciFunction:
    cache = _scan.get()
    key = (str(root), address)
    if cache is not None and key in cache:
        return cache[key]
    path = root / PCI_DEVICES / address
    pci_class = (read_text(path / "class") or "0x000000").lower().removeprefix("0x").zfill(6)
    function = PciFunction(
        address=address,
        path=path,
        vendor=hex_id(path / "vendor"),
        device=hex_id(path / "device"),
        pci_class=pci_class[-6:],
        physfn=link_name(path / "physfn"),
    )
    if cache is not None:
        cache[key] = function
    return function


def pci_functions(root: Path) -> list[PciFunction]:
    """Every PCI function under root, in address order."""
    base = root / PCI_DEVICES
    try:
        names = sorted(name for name in os.listdir(base) if PCI_ADDRESS.match(name))
    except OSError:
        return []
    return [read_function(root, name) for name in names]


def physical_functions(root: Path) -> list[PciFunction]:
    return [f for f in pci_functions(root) if not f.is_vf]
