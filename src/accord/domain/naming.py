"""How Accord spells traits and resource classes: one home for the agent's drivers and the server.

Placement accepts a custom trait or resource class only as `CUSTOM_` followed by `[A-Z0-9_]`,
at most 255 characters (placement `schemas/common.py`, `trait.py`, `resource_class.py`).
os-traits and os-resource-classes turn free text into such a name by replacing every run of
characters outside `[0-9A-Za-z]` with one `_` and then upper-casing, in that order (upper-casing
first would turn `ß` into `SS`: their bug 1762789). Accord applies that rule to each part of a
name, drops `_` at the ends of a part, joins the parts with `_` and cuts at 255, so no vendor
string, netdev name or vGPU type name can make a name Placement refuses.

FPGA traits follow Cyborg (its device-representation spec and its Intel driver):
`CUSTOM_FPGA_<VENDOR>`, `CUSTOM_FPGA_REGION_<VENDOR>_<ID>` and `CUSTOM_FPGA_FUNCTION_ID_<VENDOR>_<ID>`,
a uuid written as its 32 hex digits upper-case, as sysfs shows `afu_id` and `pr/interface_id`.
Accord spelled the function trait without the vendor before (`CUSTOM_FPGA_FUNCTION_ID_<ID>`);
a region still carries that spelling too, so device profiles written against it keep matching.

Plain Python: no HTTP, no SQL; the agent imports this module as well.
"""

from __future__ import annotations

import re
import uuid

CUSTOM_PREFIX = "CUSTOM_"
MAX_NAME_LENGTH = 255  # Placement's limit for trait and resource-class names
CUSTOM_NAME = re.compile(r"^CUSTOM_[A-Z0-9_]+$")
TRAIT_NAME = re.compile(r"^[A-Z0-9_]+$")  # standard (os-traits) and custom traits alike
# Cyborg's standard resource classes; every other one is CUSTOM_*.
STANDARD_RESOURCE_CLASSES = frozenset({"FPGA", "GPU", "VGPU", "PGPU"})

RC_FPGA = "FPGA"
RC_PGPU = "PGPU"
RC_VGPU = "VGPU"
RC_QAT = "CUSTOM_QAT"
RC_NIC = "CUSTOM_NIC"
RC_PCI = "CUSTOM_PCI"

OWNER_TRAIT = "OWNER_CYBORG"  # a standard (os-traits) trait Cyborg puts on what it manages
FUNCTION_TRAIT_PREFIX = "CUSTOM_FPGA_FUNCTION_ID_"

_NOT_NAME_CHARACTERS = re.compile(r"[^0-9A-Za-z]+")

# The vendor each of Accord's FPGA families names in its traits. Any other driver name (Cyborg's
# own `intel`, `XILINX`, `inspur`) is taken as the vendor itself, as Cyborg does.
FPGA_FAMILY_VENDORS = {"intel_fpga": "INTEL", "xilinx": "XILINX"}

# PCI vendor id -> the name traits use (CUSTOM_PCI_<VENDOR>, CUSTOM_NIC_<VENDOR>); unknown
# vendors are named by their id. nvidia and matrox are the two Cyborg's pci_driver knows.
PCI_VENDOR_NAMES = {
    "10de": "nvidia",
    "102b": "matrox",
    "8086": "intel",
    "1002": "amd",
    "10ee": "xilinx",
    "15b3": "mellanox",
    "1bd4": "inspur",
    "19e5": "huawei",
    "1af4": "redhat_virtio",
}


def name_part(text: str) -> str:
    """`"GRID T4-1B"` -> `GRID_T4_1B`: os-traits' normalisation, without `_` at the ends."""
    return _NOT_NAME_CHARACTERS.sub("_", text).strip("_").upper()


def id_part(identifier: str) -> str:
    """A uuid as its 32 hex digits upper-case (how sysfs shows an AFU or interface id); any other
    identifier through `name_part`."""
    try:
        return uuid.UUID(identifier.strip()).hex.upper()
    except ValueError:
        return name_part(identifier)


def _custom(parts: tuple[str, ...]) -> str:
    body = "_".join(p for p in map(name_part, parts) if p)
    if not body:
        raise ValueError(f"no letters or digits to name anything in {parts!r}")
    return (CUSTOM_PREFIX + body)[:MAX_NAME_LENGTH]


def custom_trait(*parts: str) -> str:
    """`custom_trait("FPGA", "intel", "pac-a10")` -> `CUSTOM_FPGA_INTEL_PAC_A10`; ValueError when
    no part has a letter or digit."""
    return _custom(parts)


def custom_resource_class(*parts: str) -> str:
    """`custom_resource_class("MIG", "1g.10gb")` -> `CUSTOM_MIG_1G_10GB`; same rules as traits."""
    return _custom(parts)


def is_custom_name(name: str) -> bool:
    """Would Placement accept this as a custom trait or resource class?"""
    return len(name) <= MAX_NAME_LENGTH and CUSTOM_NAME.match(name) is not None


def is_resource_class(name: str) -> bool:
    return name in STANDARD_RESOURCE_CLASSES or is_custom_name(name)


def is_trait(name: str) -> bool:
    """A trait Placement could hold: a standard one (`OWNER_CYBORG`) or a custom one."""
    return 0 < len(name) <= MAX_NAME_LENGTH and TRAIT_NAME.match(name) is not None


def vendor_name(pci_vendor_id: str) -> str:
    """`8086` -> `intel`; an unknown vendor keeps its id."""
    return PCI_VENDOR_NAMES.get(pci_vendor_id.lower(), pci_vendor_id)


# --- FPGA -------------------------------------------------------------------------------------


def fpga_vendor(driver_name: str) -> str:
    """The vendor an FPGA region's traits name, from the driver that reports the region."""
    return FPGA_FAMILY_VENDORS.get(driver_name) or name_part(driver_name)


def fpga_vendor_trait(driver_name: str, *model: str) -> str:
    """`CUSTOM_FPGA_INTEL`, or with a model `CUSTOM_FPGA_INTEL_PAC_N3000`."""
    return custom_trait("FPGA", fpga_vendor(driver_name), *model)


def region_trait(driver_name: str, interface_id: str) -> str:
    """The PR interface a region accepts: `CUSTOM_FPGA_REGION_INTEL_<32 hex>`."""
    return custom_trait("FPGA_REGION", fpga_vendor(driver_name), id_part(interface_id))


def function_traits(driver_name: str, function_id: str) -> list[str]:
    """What a region holding `function_id` carries: Cyborg's `CUSTOM_FPGA_FUNCTION_ID_<VENDOR>_<ID>`,
    then Accord's earlier `CUSTOM_FPGA_FUNCTION_ID_<ID>` (still named by stored profiles)."""
    ident = id_part(function_id)
    spelled = [
        custom_trait("FPGA_FUNCTION_ID", fpga_vendor(driver_name), ident),
        custom_trait("FPGA_FUNCTION_ID", ident),
    ]
    return list(dict.fromkeys(spelled))


def is_function_trait(trait: str) -> bool:
    """A trait that says which function a region holds (in any spelling, Cyborg's included):
    these are swapped when the region is reprogrammed."""
    return trait.startswith(FUNCTION_TRAIT_PREFIX)


# --- other families ---------------------------------------------------------------------------


def product_trait(family: str, product_id: str) -> str:
    """`CUSTOM_PCI_PRODUCT_ID_5000`, `CUSTOM_NIC_PRODUCT_ID_1592`, `CUSTOM_FPGA_PRODUCT_ID_5004`."""
    return custom_trait(family, "PRODUCT_ID", product_id)


def vendor_trait(family: str, pci_vendor_id: str) -> str:
    """`CUSTOM_PCI_NVIDIA`, `CUSTOM_NIC_INTEL`; an unknown vendor by its id (`CUSTOM_PCI_1D0F`)."""
    return custom_trait(family, vendor_name(pci_vendor_id))


def physnet_trait(physnet: str) -> str | None:
    """Cyborg's `CUSTOM_<PHYSNET>` for a NIC; None when the name has no letter or digit."""
    try:
        return custom_trait(physnet)
    except ValueError:
        return None
