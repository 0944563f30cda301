"""Intel OPAE `.gbs` (Accelerator Function) header parser.

Layout (see docs/image-formats.md for sources): a 16-byte GUID magic, a little-endian u32 metadata
length, that many bytes of JSON metadata, then the raw partial-reconfiguration bitstream (.rbf).
The JSON's `afu-image` object carries the PR `interface-uuid` the region must expose, the
`accelerator-clusters[].accelerator-type-uuid` (the AFU id the port shows after programming),
`magic-no` 488605312 and optional `clock-frequency-high`/`-low` in MHz.
"""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

from accord.images.formats.model import HeaderSource, ImageFormatError, ParsedImage, canonical_uuid

GBS_MAGIC = b"XeonFPGA\xb7GBSv001"  # GUID 58656f6e-4650-4741-b747-425376303031 as stored on disk
GBS_AFU_MAGIC_NO = 488605312
METADATA_LENGTH_OFFSET = len(GBS_MAGIC)
METADATA_OFFSET = METADATA_LENGTH_OFFSET + 4
# Real metadata is a few hundred bytes; the cap keeps a corrupt length from costing memory.
MAX_METADATA_LENGTH = 1 << 20


def _fail(reason: str) -> ImageFormatError:
    return ImageFormatError("gbs", reason)


def _uuid_field(obj: dict[str, Any], key: str, where: str) -> str:
    value = canonical_uuid(obj.get(key))
    if value is None:
        raise _fail(f"{where}.{key} is missing or not a UUID: {obj.get(key)!r}")
    return value


def _clocks(image: dict[str, Any]) -> dict[str, float]:
    clocks: dict[str, float] = {}
    for key, name in (("clock-frequency-high", "high"), ("clock-frequency-low", "low")):
        if key not in image:
            continue
        raw = image[key]
        try:
            # Older packager docs show these as strings ("200"); both forms exist in the wild.
            clocks[name] = float(raw)
        except (TypeError, ValueError):
            raise _fail(f"afu-image.{key} is not a number: {raw!r}") from None
    return clocks


def parse_gbs(head: bytes | BinaryIO) -> ParsedImage:
    """Parse a GBS header; raises ImageFormatError on a wrong magic, truncation or bad metadata."""
    src = HeaderSource(head)
    magic = src.read("gbs", 0, len(GBS_MAGIC), "GBS magic")
    if magic != GBS_MAGIC:
        raise _fail(f"wrong magic {magic.hex()} (expected {GBS_MAGIC.hex()})")
    (length,) = struct.unpack("<I", src.read("gbs", METADATA_LENGTH_OFFSET, 4, "metadata length"))
    if length == 0:
        raise _fail("metadata length is 0: no interface or accelerator ids to check")
    if length > MAX_METADATA_LENGTH:
        raise _fail(f"metadata length {length} exceeds the {MAX_METADATA_LENGTH}-byte limit")
    raw = src.read("gbs", METADATA_OFFSET, length, "JSON metadata")
    if src.size == METADATA_OFFSET + length:
        raise _fail("no bitstream payload after the metadata")
    try:
        metadata = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(f"metadata is not JSON: {exc}") from None
    if not isinstance(metadata, dict):
        raise _fail("metadata is not a JSON object")
    image = metadata.get("afu-image")
    if not isinstance(image, dict):
        raise _fail("metadata has no afu-image object")
    if image.get("magic-no") != GBS_AFU_MAGIC_NO:
        raise _fail(f"afu-image.magic-no is {image.get('magic-no')!r}, expected {GBS_AFU_MAGIC_NO}")
    interface_id = _uuid_field(image, "interface-uuid", "afu-image")
    clusters = image.get("accelerator-clusters")
    if not isinstance(clusters, list) or not clusters or not all(isinstance(c, dict) for c in clusters):
        raise _fail("afu-image.accelerator-clusters is missing or empty")
    function_ids = [_uuid_field(c, "accelerator-type-uuid", "accelerator-clusters[]") for c in clusters]
    name = clusters[0].get("name")
    platform = metadata.get("platform-name")
    return ParsedImage(
        format="gbs",
        vendor="intel",
        function_id=function_ids[0],
        interface_id=interface_id,
        interface_ids=(interface_id,),
        platform=platform if isinstance(platform, str) else None,
        design_name=name if isinstance(name, str) else None,
        clocks_mhz=_clocks(image),
        metadata={"header_size": METADATA_OFFSET + length, "function_ids": function_ids, "json": metadata},
    )
