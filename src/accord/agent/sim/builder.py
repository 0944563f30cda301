"""Build sysfs trees laid out like the kernel's, so a new host layout is a few lines.

Layout (Documentation/ABI/testing/sysfs-bus-pci, sysfs-devices): the real directory of a
function lives under `sys/devices/pci<domain>:<bus>/<address>`; `sys/bus/pci/devices/<address>`
is a relative symlink to it; `driver` links to `sys/bus/pci/drivers/<name>`; SR-IOV VFs are
siblings linked from the PF by `virtfnN` and back by `physfn`; `iommu_group` links to
`sys/kernel/iommu_groups/<n>`. VF addresses follow the PF's `sriov_offset`/`sriov_stride`
routing-id arithmetic, as the kernel computes them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def routing_id(address: str) -> tuple[str, int]:
    domain, bus, rest = address.split(":")
    device, function = rest.split(".")
    return domain, (int(bus, 16) << 8) | (int(device, 16) << 3) | int(function, 16)


def address_of(domain: str, rid: int) -> str:
    return f"{domain}:{(rid >> 8) & 0xFF:02x}:{(rid >> 3) & 0x1F:02x}.{rid & 7}"


def vf_address(pf: str, index: int, offset: int, stride: int) -> str:
    domain, rid = routing_id(pf)
    return address_of(domain, rid + offset + stride * index)


def relative_link(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(os.path.relpath(target, link.parent))


@dataclass
class SysfsBuilder:
    root: Path
    _next_group: int = field(default=0, init=False)

    @property
    def sys(self) -> Path:
        return self.root / "sys"

    def device_dir(self, address: str) -> Path:
        domain, bus, _ = address.split(":")
        return self.sys / "devices" / f"pci{domain}:{bus}" / address

    def write(self, path: Path, content: str | bytes) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content if content.endswith("\n") or not content else content + "\n")
        return path

    def files(self, base: Path, entries: dict[str, str]) -> None:
        for name, content in entries.items():
            self.write(base / name, content)

    def bind_driver(self, address: str, driver: str | None) -> None:
        link = self.device_dir(address) / "driver"
        if driver is None:
            if link.is_symlink():
                link.unlink()
            return
        drivers = self.sys / "bus" / "pci" / "drivers" / driver
        drivers.mkdir(parents=True, exist_ok=True)
        relative_link(link, drivers)
        relative_link(drivers / address, self.device_dir(address))

    def pci(
        self,
        address: str,
        vendor: str,
        device: str,
        pci_class: str,
        driver: str | None = None,
        numa_node: int = 0,
        subsystem: tuple[str, str] = ("0000", "0000"),
        iommu_group: int | None = None,
        extra: dict[str, str] | None = None,
    ) -> Path:
        """One PCI function; returns its real directory for driver-specific files."""
        path = self.device_dir(address)
        self.files(
            path,
            {
                "vendor": f"0x{vendor}",
                "device": f"0x{device}",
                "class": f"0x{pci_class}",
                "subsystem_vendor": f"0x{subsystem[0]}",
                "subsystem_device": f"0x{subsystem[1]}",
                "numa_node": str(numa_node),
                **(extra or {}),
            },
        )
        relative_link(self.sys / "bus" / "pci" / "devices" / address, path)
        self.bind_driver(address, driver)
        group = iommu_group if iommu_group is not None else self._take_group()
        groups = self.sys / "kernel" / "iommu_groups" / str(group)
        (groups / "devices").mkdir(parents=True, exist_ok=True)
        relative_link(path / "iommu_group", groups)
        relative_link(groups / "devices" / address, path)
        return path

    def _take_group(self) -> int:
        self._next_group += 1
        while (self.sys / "kernel" / "iommu_groups" / str(self._next_group)).exists():
            self._next_group += 1
        return self._next_group

    def sriov(
        self,
        pf: str,
        total: int,
        vf_device: str,
        offset: int = 1,
        stride: int = 1,
        enabled: int = 0,
        vf_driver: str | None = None,
    ) -> list[str]:
        """Make `pf` SR-IOV capable (the kernel's sriov_* files) and enable `enabled` VFs."""
        self.files(
            self.device_dir(pf),
            {
                "sriov_totalvfs": str(total),
                "sriov_numvfs": "0",
                "sriov_offset": str(offset),
                "sriov_stride": str(stride),
                "sriov_vf_device": vf_device,
                "sriov_drivers_autoprobe": "1",
            },
        )
        return self.enable_vfs(pf, enabled, vf_driver)

    def enable_vfs(self, pf: str, count: int, vf_driver: str | None = None) -> list[str]:
        """What the kernel does on `echo N > sriov_numvfs`: remove old VFs, create N new ones."""
        pf_dir = self.device_dir(pf)
        for old in sorted(pf_dir.glob("virtfn*")):
            self.remove_pci(os.path.basename(os.readlink(old)))
            old.unlink()

        def read(name: str) -> str:
            return (pf_dir / name).read_text().strip()

        offset, stride = int(read("sriov_offset")), int(read("sriov_stride"))
        vendor = read("vendor").removeprefix("0x")
        vf_device = read("sriov_vf_device").removeprefix("0x")
        pf_class = read("class").removeprefix("0x")
        numa = int(read("numa_node"))
        created = []
        for index in range(count):
            address = vf_address(pf, index, offset, stride)
            vf_dir = self.pci(address, vendor, vf_device, pf_class, vf_driver, numa)
            relative_link(vf_dir / "physfn", pf_dir)
            relative_link(pf_dir / f"virtfn{index}", vf_dir)
            created.append(address)
        self.write(pf_dir / "sriov_numvfs", str(count))
        return created

    def remove_pci(self, address: str) -> None:
        path = self.device_dir(address)
        link = self.sys / "bus" / "pci" / "devices" / address
        if link.is_symlink():
            link.unlink()
        for group_link in (self.sys / "kernel" / "iommu_groups").glob(f"*/devices/{address}"):
            group_link.unlink()
        for driver_link in (self.sys / "bus" / "pci" / "drivers").glob(f"*/{address}"):
            driver_link.unlink()
        if path.exists():
            _remove_tree(path)

    def class_link(self, cls: str, name: str, target: Path) -> Path:
        """`sys/class/<cls>/<name>` -> the device's directory (fpga_region, net, ...)."""
        link = self.sys / "class" / cls / name
        relative_link(link, target)
        return link


def _remove_tree(path: Path) -> None:
    for child in path.iterdir():
        if child.is_symlink() or child.is_file():
            child.unlink()
        else:
            _remove_tree(child)
    path.rmdir()
