"""Generic PCI passthrough: any function an operator allow-lists, reported as one whole device.

Like Nova's `[pci] device_spec` (formerly `passthrough_whitelist`) and Cyborg's `pci_driver`
(which reads that same option), nothing is reported unless the operator names it. Specs are
`vendor:product` ("10ee:5000"), `vendor:*` ("1af4:*") or `class:<hex prefix>` ("class:0b40").

Rules that keep the host safe:
- VFs are never devices (they belong to their PF's family, Nova treats them as type-VF).
- Host plumbing (bridges 06, mass storage 01, USB 0c03) is only reported when a spec names it
  exactly (`vendor:product`, or a class prefix covering it), never through a `vendor:*` wildcard:
  `8086:*` on an Intel server must not offer its root ports or SATA controller.

Traits follow Cyborg's pci_driver: `OWNER_CYBORG`, `CUSTOM_PCI_<VENDOR>` (vendor name where
known, else the vendor id), `CUSTOM_PCI_PRODUCT_ID_<PID>`. The handle is the function itself,
without Cyborg's optional "managed" key: Nova then uses its default (libvirt managed="yes").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from accord.agent.drivers.base import DriverConfig
from accord.agent.drivers.common import board_info, controlpath, kernel_health, pci_handle
from accord.agent.hostio import HostIO
from accord.agent.sysfs import PciFunction, physical_functions, read_function
from accord.domain import naming
from accord.schemas.inventory import DeployableReport, DeviceReport, DeviceType, Health

_HEX4 = re.compile(r"^[0-9a-f]{4}$")
_CLASS_PREFIX = re.compile(r"^(?:[0-9a-f]{2}){1,3}$")

# Class prefixes of host plumbing that a vendor wildcard must never pull in.
_PLUMBING = ("06", "01", "0c03")

# Device type by class prefix, longest first (PCI Code and ID Assignment Specification).
_TYPES: tuple[tuple[str, DeviceType], ...] = (
    ("0108", "SSD"),  # non-volatile memory controller (NVMe)
    ("0b40", "AICHIP"),  # co-processor
    ("12", "AICHIP"),  # processing accelerator
    ("03", "GPU"),  # display controller
    ("02", "NIC"),  # network controller
)
_DEFAULT_TYPE: DeviceType = "AICHIP"  # the schema's catch-all for "some accelerator"


@dataclass(frozen=True)
class Matcher:
    """One parsed allow-list entry."""

    spec: str
    vendor: str | None = None
    product: str | None = None  # None: any product of `vendor`
    class_prefix: str | None = None

    @property
    def exact(self) -> bool:
        """Names a device precisely enough to pull in host plumbing."""
        return self.class_prefix is not None or self.product is not None

    def matches(self, function: PciFunction) -> bool:
        if self.class_prefix is not None:
            return function.pci_class.startswith(self.class_prefix)
        if function.vendor != self.vendor:
            return False
        return self.product is None or function.device == self.product


def parse_passthrough(spec: str) -> Matcher:
    """`vendor:product`, `vendor:*` or `class:<2, 4 or 6 hex digits>`; ValueError says why not."""
    text = spec.strip().lower()
    if not text:
        raise ValueError("empty passthrough spec; expected vendor:product, vendor:* or class:<hex>")
    left, sep, right = text.partition(":")
    if not sep:
        raise ValueError(
            f"passthrough spec {spec!r} has no ':'; expected vendor:product, vendor:* or class:<hex>"
        )
    if left == "class":
        if not _CLASS_PREFIX.match(right):
            raise ValueError(
                f"passthrough spec {spec!r}: class prefix must be 2, 4 or 6 hex digits "
                "(base class, subclass, prog-if), e.g. class:0b40"
            )
        return Matcher(spec=spec, class_prefix=right)
    if not _HEX4.match(left):
        raise ValueError(f"passthrough spec {spec!r}: vendor id must be 4 hex digits, e.g. 10ee")
    if right == "*":
        return Matcher(spec=spec, vendor=left)
    if not _HEX4.match(right):
        raise ValueError(f"passthrough spec {spec!r}: product id must be 4 hex digits or '*', e.g. 10ee:5000")
    return Matcher(spec=spec, vendor=left, product=right)


def parse_passthrough_list(specs: tuple[str, ...]) -> tuple[Matcher, ...]:
    return tuple(parse_passthrough(spec) for spec in specs)


def allowed(matchers: tuple[Matcher, ...], function: PciFunction) -> bool:
    """Allow-listed, with host plumbing needing an exact spec."""
    plumbing = function.pci_class.startswith(_PLUMBING)
    return any(m.matches(function) and (m.exact or not plumbing) for m in matchers)


def device_type(pci_class: str) -> DeviceType:
    for prefix, kind in _TYPES:
        if pci_class.startswith(prefix):
            return kind
    return _DEFAULT_TYPE


def pci_traits(function: PciFunction) -> list[str]:
    return [
        naming.OWNER_TRAIT,
        naming.vendor_trait("PCI", function.vendor),
        naming.product_trait("PCI", function.device),
    ]


class GenericPciDriver:
    """Discovers and ProbesHealth only: an allow-listed function is passed through whole, with no
    VFs, mediated devices, programming or firmware tool known for it."""

    name = "generic_pci"

    def __init__(self, root: Path, io: HostIO, config: DriverConfig | None = None) -> None:
        self.root = root
        self.io = io
        self.config = config or DriverConfig()
        # Parse once so a bad spec fails at agent start, not at the first scan.
        self.matchers = parse_passthrough_list(self.config.passthrough)

    def _claims(self, function: PciFunction) -> bool:
        return not function.is_vf and allowed(self.matchers, function)

    def discover(self) -> list[DeviceReport]:
        return [self._report(f) for f in physical_functions(self.root) if self._claims(f)]

    def _report(self, function: PciFunction) -> DeviceReport:
        deployable = DeployableReport(
            name=function.address,
            num_accelerators=1,
            resource_class=naming.RC_PCI,
            traits=pci_traits(function),
            driver_name=self.name,
            attach_handles=[pci_handle(function.address)],
        )
        return DeviceReport(
            type=device_type(function.pci_class),
            vendor=function.vendor,
            product=function.device,
            model=f"PCI {function.vendor}:{function.device} class {function.pci_class}",
            pci_address=function.address,
            numa_node=function.numa_node,
            driver=function.driver,
            health=kernel_health(function),
            controlpath_id=controlpath(function),
            vendor_board_info=board_info(function),
            deployables=[deployable],
        )

    def _function(self, pci_address: str) -> PciFunction:
        function = read_function(self.root, pci_address)
        if not function.path.exists() or not self._claims(function):
            raise ValueError(f"{pci_address} is not an allow-listed PCI device on this host")
        return function

    def health(self, pci_address: str) -> Health:
        return kernel_health(self._function(pci_address))
