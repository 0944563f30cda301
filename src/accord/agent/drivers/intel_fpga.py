"""Intel FPGA PACs (Arria 10 GX, N3000, D5005) on the upstream DFL driver or OPAE's older one.

Two sysfs layouts carry the same facts (see accord.agent.sim.layouts.fpga for the sources):
- DFL (`dfl-pci`): `<pf>/fpga_region/regionN/dfl-fme.N` and `.../dfl-port.M/afu_id`; the PR
  interface id is the `compat_id` of the FME's per-port region
  (`dfl-fme.N/dfl-fme-region.*/fpga_region/region*/compat_id`), as OPAE's libopae reads it.
- OPAE out-of-tree (`intel-fpga-pci`): `<pf>/fpga/intel-fpga-dev.N/intel-fpga-fme.N/pr/interface_id`
  and `.../intel-fpga-port.N/afu_id`, as Cyborg's intel driver reads it.
Once ports are released to VFs the PF no longer shows them; a VF bound on this host shows its
own port in the same layout, so the AFU id is looked for there too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from accord.agent.drivers.base import DriverConfig
from accord.agent.drivers.common import (
    board_info,
    controlpath,
    enabled_vfs,
    kernel_health,
    pci_handle,
    set_num_vfs,
)
from accord.agent.hostio import HostIO
from accord.agent.sysfs import PciFunction, pci_info, physical_functions, read_function, read_int, read_text
from accord.domain import naming
from accord.schemas.inventory import AttachHandleReport, DeployableReport, DeviceReport, Health

DRIVERS = ("dfl-pci", "intel-fpga-pci")
# PF device id -> (product trait suffix, model); dfl-pci.c and Cyborg's PRODUCT_MAP
PRODUCTS = {
    "09c4": ("PAC_ARRIA10", "Intel PAC with Arria 10 GX"),
    "0b30": ("PAC_N3000", "Intel FPGA PAC N3000"),
    "0b2b": ("PAC_D5005", "Intel FPGA PAC D5005"),
}


def uuid_from_sysfs(text: str | None) -> str | None:
    """`afu_id`/`compat_id` text (32 hex digits) as a canonical uuid; all zeros means none."""
    if not text:
        return None
    try:
        value = uuid.UUID(text.strip())
    except ValueError:
        return None
    return None if value.int == 0 else str(value)


@dataclass(frozen=True)
class Port:
    number: int
    path: Path  # the port's directory (afu_id lives here)
    afu_id: str | None


@dataclass(frozen=True)
class Card:
    """What the FPGA driver of one PCI function shows."""

    layout: str  # "dfl" | "opae"
    fme: Path | None
    interface_id: str | None
    bitstream_id: str | None
    ports: tuple[Port, ...]


def _first(paths: list[Path]) -> Path | None:
    return sorted(paths)[0] if paths else None


def _ports(dirs: list[Path]) -> tuple[Port, ...]:
    ports = []
    for position, path in enumerate(sorted(dirs, key=lambda p: int(p.name.rsplit(".", 1)[1]))):
        number = read_int(path / "id")  # DFL's port id within the card; OPAE has none
        afu = uuid_from_sysfs(read_text(path / "afu_id"))
        ports.append(Port(position if number is None else number, path, afu))
    return tuple(sorted(ports, key=lambda p: p.number))


def read_card(function_dir: Path) -> Card | None:
    """The FME and ports under one PF or VF directory, in whichever layout is there."""
    for region in sorted(function_dir.glob("fpga_region/region*")):
        fme = _first(list(region.glob("dfl-fme.*")))
        ports = list(region.glob("dfl-port.*"))
        if fme is None and not ports:
            continue
        compat = fme.glob("dfl-fme-region.*/fpga_region/region*/compat_id") if fme else iter(())
        interface = next((i for i in (uuid_from_sysfs(read_text(p)) for p in sorted(compat)) if i), None)
        bitstream = read_text(fme / "bitstream_id") if fme else None
        return Card("dfl", fme, interface, bitstream, _ports(ports))
    for dev in sorted(function_dir.glob("fpga/intel-fpga-dev.*")):
        fme = _first(list(dev.glob("intel-fpga-fme.*")))
        interface = uuid_from_sysfs(read_text(fme / "pr" / "interface_id")) if fme else None
        bitstream = read_text(fme / "bitstream_id") if fme else None
        return Card("opae", fme, interface, bitstream, _ports(list(dev.glob("intel-fpga-port.*"))))
    return None


def is_intel_fpga(function: PciFunction) -> bool:
    if function.is_vf:
        return False
    return (function.vendor == "8086" and function.device in PRODUCTS) or function.driver in DRIVERS


@dataclass(frozen=True)
class Slot:
    """One programmable region (port) and the PCI functions that give a VM its AFU."""

    name: str
    port: Port | None
    handles: tuple[str, ...]


def slots(pf: PciFunction, card: Card | None, vfs: list[PciFunction]) -> list[Slot]:
    ports = list(card.ports) if card else []
    if not ports:  # released to VFs: a VF bound on this host still shows its port
        for vf in vfs:
            vf_card = read_card(vf.path)
            ports.extend(vf_card.ports[:1] if vf_card else ())
    names = [pf.address] if len(ports) <= 1 else [f"{pf.address}-port{p.number}" for p in ports]
    handles = [vf.address for vf in vfs] or [pf.address]
    if len(names) == 1:
        return [Slot(names[0], ports[0] if ports else None, tuple(handles))]
    # dfl.rst: each VF owns exactly one port; without VFs the PF holds them all.
    if vfs:
        return [
            Slot(n, p, tuple(handles[i : i + 1])) for i, (n, p) in enumerate(zip(names, ports, strict=True))
        ]
    return [
        Slot(n, p, tuple(handles if i == 0 else ()))
        for i, (n, p) in enumerate(zip(names, ports, strict=True))
    ]


def card_health(pf: PciFunction, card: Card | None) -> Health:
    health = kernel_health(pf, DRIVERS)
    if health.state != "ok" or pf.driver == "vfio-pci":
        return health
    if card is None or card.fme is None:
        return Health(
            state="unusable",
            reasons=[f"{pf.address} shows no FPGA Management Engine (is dfl-fme or intel-fpga-fme loaded?)"],
        )
    return health


class IntelFpgaDriver:
    """Discovers, ProbesHealth, ManagesVfs (ports go to VFs), Programs (fpgaconf), FlashesFirmware
    (fpgasupdate). No mediated devices."""

    name = "intel_fpga"

    def __init__(self, root: Path, io: HostIO, config: DriverConfig | None = None) -> None:
        self.root = root
        self.io = io
        self.config = config or DriverConfig()

    def discover(self) -> list[DeviceReport]:
        return [self._report(pf) for pf in physical_functions(self.root) if is_intel_fpga(pf)]

    def _report(self, pf: PciFunction) -> DeviceReport:
        card = read_card(pf.path)
        health = card_health(pf, card)
        vfs = enabled_vfs(self.root, pf)
        suffix, model = PRODUCTS.get(pf.device, (pf.device, f"Intel FPGA {pf.vendor_product}"))
        base = [naming.fpga_vendor_trait(self.name), naming.fpga_vendor_trait(self.name, suffix)]
        deployables = []
        for slot in slots(pf, card, vfs):
            usable = health.state != "unusable"
            handles: list[AttachHandleReport] = [pci_handle(a) for a in slot.handles] if usable else []
            interface = card.interface_id if card else None
            function = slot.port.afu_id if slot.port else None
            traits = list(base)
            if interface:
                traits.append(naming.region_trait(self.name, interface))
            if function:
                traits += naming.function_traits(self.name, function)
            deployables.append(
                DeployableReport(
                    name=slot.name,
                    num_accelerators=len(handles),
                    resource_class=naming.RC_FPGA,
                    traits=traits,
                    driver_name=self.name,
                    function_id=function,
                    interface_id=interface,
                    attach_handles=handles,
                )
            )
        info = board_info(pf)
        if card:
            info["layout"] = card.layout
        return DeviceReport(
            type="FPGA",
            vendor=pf.vendor,
            product=pf.device,
            model=model,
            pci_address=pf.address,
            numa_node=pf.numa_node,
            driver=pf.driver,
            firmware_version=card.bitstream_id if card else None,
            health=health,
            controlpath_id=controlpath(pf),
            vendor_board_info=info,
            deployables=deployables,
        )

    def health(self, pci_address: str) -> Health:
        pf = read_function(self.root, pci_address)
        return card_health(pf, read_card(pf.path))

    def set_num_vfs(self, pci_address: str, count: int) -> None:
        set_num_vfs(self.io, self.root, pci_address, count)

    def _slot(self, pci_address: str, region: str) -> Slot:
        pf = read_function(self.root, pci_address)
        card = read_card(pf.path)
        if card_health(pf, card).state == "unusable":
            raise RuntimeError(f"{pci_address} cannot be programmed: {card_health(pf, card).reasons}")
        for slot in slots(pf, card, enabled_vfs(self.root, pf)):
            if slot.name == region or (region in ("", pci_address) and slot.name.startswith(pci_address)):
                return slot
        raise ValueError(f"{pci_address} has no region {region!r}")

    def program(self, pci_address: str, region: str, image_path: Path) -> str:
        """fpgaconf does the PR through the FME (always on the PF), then the port shows the AFU."""
        slot = self._slot(pci_address, region)
        if slot.port is None:
            raise RuntimeError(f"{slot.name}: the port is not visible on this host; cannot read back")
        where = pci_info(pci_address)
        # Cyborg's command line; `--segment` only exists in newer OPAE, so only when needed.
        argv = ["fpgaconf"]
        if where["domain"] != "0000":
            argv += ["--segment", f"0x{where['domain']}"]
        for key in ("bus", "device", "function"):
            argv += [f"--{key}", f"0x{where[key]}"]
        self.io.run([*argv, str(image_path)])
        loaded = uuid_from_sysfs(read_text(slot.port.path / "afu_id"))
        if loaded is None:
            raise RuntimeError(f"{slot.name}: fpgaconf finished but the port shows no AFU id")
        return loaded

    def reclaim_ports(self, pci_address: str) -> list[int]:
        """Take AFU ports released to VFs back to the PF (DFL's port assign, after SR-IOV is
        off), so the FME can program them and the PF reads them back. Refused while a VF is
        passed through (bound to vfio-pci). Returns the port ids taken back."""
        pf = read_function(self.root, pci_address)
        card = read_card(pf.path)
        if card is None or card.fme is None or card.layout != "dfl":
            return []
        held = {port.number for port in card.ports}
        missing = [n for n in range(read_int(card.fme / "ports_num") or 0) if n not in held]
        if not missing:
            return []
        vfs = enabled_vfs(self.root, pf)
        passed = [vf.address for vf in vfs if vf.driver == "vfio-pci"]
        if passed:
            raise RuntimeError(
                f"{pci_address}: port(s) {missing} are released to VF(s) {', '.join(passed)}, which are "
                "passed through; cannot take them back"
            )
        if vfs:
            set_num_vfs(self.io, self.root, pci_address, 0)  # the kernel assigns only with SR-IOV off
        for number in missing:
            self.io.run(["fpgaport", "assign", pci_address, str(number)])
        return missing

    def update_firmware(self, pci_address: str, image_path: Path) -> str:
        """fpgasupdate (OPAE's secure-update tool) takes the image and the card's PCI address."""
        self.io.run(["fpgasupdate", str(image_path), pci_address])
        card = read_card(read_function(self.root, pci_address).path)
        version = card.bitstream_id if card else None
        if not version:
            raise RuntimeError(f"{pci_address}: no bitstream_id to read back after the update")
        return version
