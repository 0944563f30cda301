"""Sniffing an image's format, and checking its parsed header against what the admin declared."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from accord.images.formats.bit import BIT_PREAMBLE, parse_bit, same_part
from accord.images.formats.gbs import GBS_MAGIC, parse_gbs
from accord.images.formats.model import (
    HeaderSource,
    ImageContradiction,
    ImageFormat,
    ParsedImage,
    canonical_uuid,
)
from accord.images.formats.xclbin import LEGACY_MAGIC, XCLBIN2_MAGIC, parse_xclbin

PARSERS: dict[ImageFormat, Callable[[bytes | BinaryIO], ParsedImage]] = {
    "gbs": parse_gbs,
    "xclbin": parse_xclbin,
    "bit": parse_bit,
}
# Names and PCI vendor ids an admin may declare for each image vendor; AMD now ships Xilinx parts.
VENDOR_ALIASES = {
    "intel": {"intel", "8086", "0x8086"},
    "xilinx": {"xilinx", "amd", "amd-xilinx", "10ee", "0x10ee"},
}


def detect_format(head: bytes) -> ImageFormat | None:
    """The format whose magic `head` starts with; None for anything else (e.g. a firmware blob)."""
    if head.startswith(GBS_MAGIC):
        return "gbs"
    if head.startswith(XCLBIN2_MAGIC) or head.startswith(LEGACY_MAGIC):
        return "xclbin"
    if head.startswith(BIT_PREAMBLE[:4]):
        return "bit"
    return None


def parse_image(source: bytes | BinaryIO) -> ParsedImage | None:
    """Sniff and parse; None when no known magic matches, ImageFormatError when one does but is broken."""
    fmt = detect_format(HeaderSource(source).peek(16))
    return None if fmt is None else PARSERS[fmt](source)


def detect_and_parse(path: Path | str) -> ParsedImage | None:
    """`parse_image` on a file, reading only its header."""
    with open(path, "rb") as image:
        return parse_image(image)


def _declared(declared: Mapping[str, Any], key: str) -> str | None:
    value = declared.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _check_target(parsed: ParsedImage, target: str) -> None:
    as_uuid = canonical_uuid(target)
    if as_uuid is not None:
        if parsed.interface_ids and as_uuid not in parsed.interface_ids:
            raise ImageContradiction("target interface id", target, ", ".join(parsed.interface_ids))
        return
    if parsed.platform is None:
        return
    if parsed.format == "bit":
        same = same_part(target, parsed.platform)
    else:
        same = target.lower() == parsed.platform.lower()
    if not same:
        raise ImageContradiction("target", target, parsed.platform)


def check_declared(parsed: ParsedImage, declared: Mapping[str, Any]) -> None:
    """Raise ImageContradiction where the image's bytes contradict the declared metadata.

    Keys looked at: `function_id` (AFU/accelerator type uuid or xclbin uuid), `interface_id` (a uuid),
    `target` (an interface uuid, a platform VBNV or a part name) and `vendor` (name or PCI id).
    Missing keys, and facts the format does not carry (a .bit has no function id), are not checked.
    """
    function_id = _declared(declared, "function_id")
    found_function = parsed.function_id
    if function_id and found_function and canonical_uuid(function_id) != found_function:
        raise ImageContradiction("function_id", function_id, found_function)
    interface_id = _declared(declared, "interface_id")
    found_interfaces = parsed.interface_ids
    if interface_id and found_interfaces and canonical_uuid(interface_id) not in found_interfaces:
        raise ImageContradiction("interface_id", interface_id, ", ".join(found_interfaces))
    target = _declared(declared, "target")
    if target is not None:
        _check_target(parsed, target)
    vendor = _declared(declared, "vendor")
    if vendor is not None and vendor.lower() not in VENDOR_ALIASES[parsed.vendor]:
        raise ImageContradiction("vendor", vendor, parsed.vendor)
