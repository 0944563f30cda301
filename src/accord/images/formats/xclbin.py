"""Xilinx XRT `xclbin2` (axlf) header parser.

Layout (XRT `xclbin.h`, see docs/image-formats.md): magic "xclbin2\\0", signature length, reserved,
a 256-byte key block and a u64 unique id, then the 152-byte `axlf_header` at offset 304 (total length,
timestamps, version, mode, interface uuid, 64-byte platform VBNV, the xclbin uuid, debug name,
section count), then `m_numSections` 40-byte section headers from offset 456. All little-endian.
Interface uuids of shell-based platforms live in the PARTITION_METADATA section (a DTB).
"""

from __future__ import annotations

import struct
import uuid
from typing import Any, BinaryIO

from accord.images.formats import fdt
from accord.images.formats.model import HeaderSource, ImageFormatError, ParsedImage, canonical_uuid

XCLBIN2_MAGIC = b"xclbin2\0"
LEGACY_MAGIC = b"xclbin0\0"
AXLF_HEADER_OFFSET = 304
# m_length, m_timeStamp, m_featureRomTimeStamp, m_versionPatch, m_versionMajor, m_versionMinor,
# m_mode, m_actionMask, m_interface_uuid, m_platformVBNV, uuid, m_debug_bin, m_numSections (+4 pad)
AXLF_HEADER = struct.Struct("<QQQHBBHH16s64s16s16sI4x")
SECTIONS_OFFSET = AXLF_HEADER_OFFSET + AXLF_HEADER.size  # 456
SECTION_HEADER = struct.Struct("<I16s4xQQ")  # kind, name, (pad), offset, size
MAX_SECTIONS = 0x10000  # XCLBIN_MAX_NUM_SECTION in xclbin.h
PARTITION_METADATA = 20
MAX_PARTITION_METADATA = 1 << 20
SECTION_KIND_NAMES = {
    0: "BITSTREAM",
    2: "EMBEDDED_METADATA",
    6: "MEM_TOPOLOGY",
    7: "CONNECTIVITY",
    8: "IP_LAYOUT",
    11: "CLOCK_FREQ_TOPOLOGY",
    14: "BUILD_METADATA",
    18: "PDI",
    19: "BITSTREAM_PARTIAL_PDI",
    20: "PARTITION_METADATA",
}
NIL_UUID = b"\0" * 16


def _fail(reason: str) -> ImageFormatError:
    return ImageFormatError("xclbin", reason)


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _interfaces_from_partition_metadata(blob: bytes) -> list[str]:
    try:
        props = fdt.properties(blob)
    except fdt.FdtError as exc:
        raise _fail(f"PARTITION_METADATA is not a valid device tree: {exc}") from None
    found: list[str] = []
    for path, value in props.items():
        if path.startswith("interfaces/") and path.endswith("/interface_uuid"):
            text = _cstr(value)
            canonical = canonical_uuid(text)
            if canonical is None:
                raise _fail(f"PARTITION_METADATA {path} is not a UUID: {text!r}")
            found.append(canonical)
    return found


def parse_xclbin(head: bytes | BinaryIO) -> ParsedImage:
    """Parse an xclbin2 header and section table; raises ImageFormatError on any inconsistency."""
    src = HeaderSource(head)
    magic = src.read("xclbin", 0, 8, "magic")
    if magic == LEGACY_MAGIC:
        raise _fail("legacy xclbin0 format is not supported (only xclbin2)")
    if magic != XCLBIN2_MAGIC:
        raise _fail(f"wrong magic {magic!r} (expected {XCLBIN2_MAGIC!r})")
    fields = AXLF_HEADER.unpack(src.read("xclbin", AXLF_HEADER_OFFSET, AXLF_HEADER.size, "axlf header"))
    length, timestamp, rom_timestamp, patch, major, minor, mode, _, ifc_raw, vbnv_raw, uuid_raw, _, count = (
        fields
    )
    if length > src.size:
        raise _fail(f"truncated: m_length is {length} but the image has {src.size} bytes")
    if length < src.size:
        raise _fail(f"m_length is {length} but the image has {src.size} bytes (trailing data)")
    if count > MAX_SECTIONS:
        raise _fail(f"m_numSections {count} exceeds {MAX_SECTIONS}")
    if uuid_raw == NIL_UUID:
        raise _fail("the xclbin uuid is all zeros")
    table = src.read("xclbin", SECTIONS_OFFSET, count * SECTION_HEADER.size, "section headers")
    sections: list[dict[str, Any]] = []
    interfaces: list[str] = []
    if ifc_raw != NIL_UUID:
        interfaces.append(str(uuid.UUID(bytes=ifc_raw)))
    for index in range(count):
        kind, name_raw, offset, size = SECTION_HEADER.unpack_from(table, index * SECTION_HEADER.size)
        if offset + size > length:
            raise _fail(f"section {index} ({offset}+{size}) runs past m_length {length}")
        sections.append(
            {
                "kind": kind,
                "kind_name": SECTION_KIND_NAMES.get(kind),
                "name": _cstr(name_raw),
                "offset": offset,
                "size": size,
            }
        )
        if kind == PARTITION_METADATA:
            if size > MAX_PARTITION_METADATA:
                raise _fail(f"PARTITION_METADATA of {size} bytes exceeds {MAX_PARTITION_METADATA}")
            blob = src.read("xclbin", offset, size, "PARTITION_METADATA")
            interfaces.extend(i for i in _interfaces_from_partition_metadata(blob) if i not in interfaces)
    vbnv = _cstr(vbnv_raw)
    return ParsedImage(
        format="xclbin",
        vendor="xilinx",
        function_id=str(uuid.UUID(bytes=uuid_raw)),
        interface_id=interfaces[0] if interfaces else None,
        interface_ids=tuple(interfaces),
        platform=vbnv or None,
        metadata={
            "length": length,
            "timestamp": timestamp,
            "feature_rom_timestamp": rom_timestamp,
            "version": f"{major}.{minor}.{patch}",
            "mode": mode,
            "sections": sections,
        },
    )
