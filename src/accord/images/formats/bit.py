"""Xilinx `.bit` header parser.

The header (see docs/image-formats.md) is a fixed 13-byte preamble (a u16 length 9, nine bytes
0f f0 0f f0 0f f0 0f f0 00, a u16 1) followed by tagged fields, each a one-letter key and a
big-endian length: 'a' design name, 'b' part, 'c' date, 'd' time (u16 lengths, NUL-terminated
strings), then 'e' with a u32 length and the configuration data. Vivado appends
`;UserID=...;Version=...` to the design name.
"""

from __future__ import annotations

import struct
from typing import Any, BinaryIO

from accord.images.formats.model import HeaderSource, ImageFormatError, ParsedImage

BIT_PREAMBLE = b"\x00\x09\x0f\xf0\x0f\xf0\x0f\xf0\x0f\xf0\x00\x00\x01"
STRING_FIELDS = (("a", "design"), ("b", "part"), ("c", "date"), ("d", "time"))


def _fail(reason: str) -> ImageFormatError:
    return ImageFormatError("bit", reason)


def same_part(a: str, b: str) -> bool:
    """Whether two part names denote one device, e.g. the header's '7a35tcpg236' and Vivado's
    'xc7a35tcpg236-1': case and the 'xc' prefix are ignored, and the shorter name's dash-separated
    components (device+package, speed grade, temperature) must begin the longer one's.
    """
    parts_a = a.strip().lower().removeprefix("xc").split("-")
    parts_b = b.strip().lower().removeprefix("xc").split("-")
    shorter, longer = sorted((parts_a, parts_b), key=len)
    return bool(shorter[0]) and longer[: len(shorter)] == shorter


def parse_bit(head: bytes | BinaryIO) -> ParsedImage:
    """Parse a .bit header; raises ImageFormatError on a wrong preamble, a missing field or truncation."""
    src = HeaderSource(head)
    preamble = src.read("bit", 0, len(BIT_PREAMBLE), "preamble")
    if preamble != BIT_PREAMBLE:
        raise _fail(f"wrong preamble {preamble.hex()} (expected {BIT_PREAMBLE.hex()})")
    pos = len(BIT_PREAMBLE)
    values: dict[str, str] = {}
    for key, name in STRING_FIELDS:
        tag = src.read("bit", pos, 1, f"field '{key}' tag")
        if tag != key.encode():
            raise _fail(f"expected field '{key}' ({name}) at offset {pos}, found {tag!r}")
        (length,) = struct.unpack(">H", src.read("bit", pos + 1, 2, f"field '{key}' length"))
        raw = src.read("bit", pos + 3, length, f"field '{key}' ({name})")
        values[name] = raw.split(b"\0", 1)[0].decode("latin-1")
        pos += 3 + length
    tag = src.read("bit", pos, 1, "field 'e' tag")
    if tag != b"e":
        raise _fail(f"expected field 'e' (bitstream length) at offset {pos}, found {tag!r}")
    (data_length,) = struct.unpack(">I", src.read("bit", pos + 1, 4, "bitstream length"))
    data_offset = pos + 5
    if data_length == 0:
        raise _fail("bitstream length is 0")
    if data_offset + data_length > src.size:
        available = src.size - data_offset
        raise _fail(f"truncated: header declares {data_length} bitstream bytes, {available} follow")
    design, *attributes = values["design"].split(";")
    extra: dict[str, Any] = dict(a.split("=", 1) for a in attributes if "=" in a)
    if not values["part"]:
        raise _fail("empty part name")
    return ParsedImage(
        format="bit",
        vendor="xilinx",
        function_id=None,
        interface_id=None,
        platform=values["part"],
        design_name=design or None,
        metadata={**values, "attributes": extra, "data_offset": data_offset, "data_length": data_length},
    )
