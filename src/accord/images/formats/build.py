"""Builders of valid images in each format, for tests, the simulator and the demo.

The payloads are placeholders, not configuration data: the headers are real, so the parsers (and the
vendors' own header readers) accept them, but no device could be configured with the bytes.
"""

from __future__ import annotations

import json
import struct
import time
import uuid
from typing import Any

from accord.images.formats import fdt
from accord.images.formats.bit import BIT_PREAMBLE
from accord.images.formats.gbs import GBS_AFU_MAGIC_NO, GBS_MAGIC
from accord.images.formats.xclbin import (
    AXLF_HEADER,
    PARTITION_METADATA,
    SECTION_HEADER,
    SECTIONS_OFFSET,
    XCLBIN2_MAGIC,
)

BITSTREAM_SECTION = 0


def gbs_metadata(
    afu_uuid: str,
    interface_uuid: str,
    *,
    name: str = "accord_afu",
    platform: str = "PAC",
    clock_high_mhz: float | None = None,
    clock_low_mhz: float | None = None,
) -> dict[str, Any]:
    """The JSON metadata OPAE's packager writes into a GBS."""
    image: dict[str, Any] = {
        "magic-no": GBS_AFU_MAGIC_NO,
        "interface-uuid": str(uuid.UUID(interface_uuid)),
        "power": 0,
        "accelerator-clusters": [
            {"name": name, "total-contexts": 1, "accelerator-type-uuid": str(uuid.UUID(afu_uuid))}
        ],
    }
    if clock_high_mhz is not None:
        image["clock-frequency-high"] = clock_high_mhz
    if clock_low_mhz is not None:
        image["clock-frequency-low"] = clock_low_mhz
    return {"version": 1, "platform-name": platform, "afu-image": image}


def build_gbs_raw(metadata: bytes, payload: bytes = b"\0" * 64) -> bytes:
    """Magic + length + arbitrary metadata bytes + payload: for crafting broken metadata in tests."""
    return GBS_MAGIC + struct.pack("<I", len(metadata)) + metadata + payload


def build_gbs(
    afu_uuid: str,
    interface_uuid: str,
    payload: bytes = b"\0" * 64,
    **metadata_options: Any,
) -> bytes:
    """A GBS whose AFU (accelerator type) id and PR interface id are the given uuids."""
    metadata = gbs_metadata(afu_uuid, interface_uuid, **metadata_options)
    return build_gbs_raw(json.dumps(metadata).encode(), payload)


def _pad8(data: bytearray) -> None:
    data.extend(b"\0" * (-len(data) % 8))


def build_xclbin(
    xclbin_uuid: str,
    interface_uuid: str | None,
    platform_vbnv: str,
    payload: bytes = b"\0" * 64,
    *,
    interface_in_header: bool = False,
    timestamp: int | None = None,
) -> bytes:
    """An xclbin2 with a BITSTREAM section and, unless `interface_in_header`, a PARTITION_METADATA DTB.

    Shell-based platforms carry the interface uuid in PARTITION_METADATA; 2-RP/DFX ones in the header's
    m_interface_uuid. Both are supported so tests can cover each.
    """
    sections: list[tuple[int, str, bytes]] = [(BITSTREAM_SECTION, "bitstream", payload)]
    header_ifc = b"\0" * 16
    if interface_uuid is not None and interface_in_header:
        header_ifc = uuid.UUID(interface_uuid).bytes
    elif interface_uuid is not None:
        dtb = fdt.build({"interfaces/@0": {"interface_uuid": uuid.UUID(interface_uuid).hex.encode() + b"\0"}})
        sections.append((PARTITION_METADATA, "partition", dtb))
    return build_xclbin_sections(
        platform_vbnv, sections, xclbin_uuid=xclbin_uuid, header_interface=header_ifc, timestamp=timestamp
    )


def build_xclbin_sections(
    platform_vbnv: str,
    sections: list[tuple[int, str, bytes]],
    *,
    xclbin_uuid: str | None = None,
    header_interface: bytes = b"\0" * 16,
    timestamp: int | None = None,
) -> bytes:
    """An axlf container holding `sections` (kind, name, data), each 8-byte aligned."""
    body = bytearray()
    data_start = SECTIONS_OFFSET + SECTION_HEADER.size * len(sections)
    data_start += -data_start % 8
    table = bytearray()
    for kind, name, data in sections:
        offset = data_start + len(body)
        table.extend(SECTION_HEADER.pack(kind, name.encode(), offset, len(data)))
        body.extend(data)
        _pad8(body)
    length = data_start + len(body)
    header = AXLF_HEADER.pack(
        length,
        int(time.time()) if timestamp is None else timestamp,
        0,
        0,
        2,
        1,
        0,  # XCLBIN_FLAT
        0,
        header_interface,
        platform_vbnv.encode()[:63],
        uuid.UUID(xclbin_uuid).bytes if xclbin_uuid else b"\0" * 16,
        b"",
        len(sections),
    )
    preamble = XCLBIN2_MAGIC + struct.pack("<i", -1) + b"\xff" * 28 + b"\0" * 256 + struct.pack("<Q", 0)
    image = bytearray(preamble + header + table)
    image.extend(b"\0" * (data_start - len(image)))
    return bytes(image + body)


def build_bit(
    design: str,
    part: str,
    payload: bytes = b"\xff" * 32 + b"\xaa\x99\x55\x66",
    *,
    date: str = "2024/01/01",
    time_of_day: str = "00:00:00",
) -> bytes:
    """A .bit with the given design name ('a') and part ('b') fields."""
    out = bytearray(BIT_PREAMBLE)
    for key, value in (("a", design), ("b", part), ("c", date), ("d", time_of_day)):
        raw = value.encode("latin-1") + b"\0"
        out.extend(key.encode() + struct.pack(">H", len(raw)) + raw)
    out.extend(b"e" + struct.pack(">I", len(payload)) + payload)
    return bytes(out)
