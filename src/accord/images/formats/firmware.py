"""Own parsers of firmware containers: what each flash tool takes, and what the bytes say it is for.

- Intel secure-update images (`fpgasupdate`, PAC N3000 / D5005): an optional GBS metadata prefix,
  then Block 0 (128 bytes: magic 0xB6EAFD19, payload length, content type and subtype, payload
  hashes), Block 1 (896 bytes, starting with the signature block magic 0xF27F28D7), the payload.
- Xilinx shell/base images (`.xsabin`, `xbmgmt program --base`): an xclbin2 (axlf) container whose
  sections hold a flash image (MCS, PDI or ASK_FLASH) or satellite controller firmware (BMC); the
  header's platform VBNV names the shell, which is what the card reports as its firmware.
- Accord's simulated firmware (the simulated flash tools): `ACCORD-SIMFW1\\n`, one JSON line
  {"version", "target", "payload_sha256"}, the payload.

Only headers are read (bounded), never the whole payload: the card (or the simulated tool)
verifies signatures and payload digests itself. Facts and their public sources:
docs/image-formats.md.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from accord.images.formats.gbs import GBS_MAGIC
from accord.images.formats.model import HeaderSource, ImageFormatError
from accord.images.formats.xclbin import (
    AXLF_HEADER,
    AXLF_HEADER_OFFSET,
    MAX_SECTIONS,
    SECTION_HEADER,
    SECTIONS_OFFSET,
    XCLBIN2_MAGIC,
)

SIM_MAGIC = b"ACCORD-SIMFW1\n"
SIM_HEADER_MAX = 4096

INTEL_BLOCK0_MAGIC = 0xB6EAFD19
INTEL_BLOCK1_MAGIC = 0xF27F28D7
INTEL_BLOCK0 = struct.Struct("<IIII32s48s32s")  # magic, ConLen, ConType, reserved, sha256, sha384, reserved
INTEL_BLOCK1_SIZE = 896
INTEL_PAYLOAD_OFFSET = INTEL_BLOCK0.size + INTEL_BLOCK1_SIZE  # 1024
INTEL_CONTENT_TYPES = {0: "static region (FIM)", 1: "BMC firmware", 2: "partial reconfiguration bitstream"}
INTEL_FIRMWARE_TYPES = {0, 1}
INTEL_SUBTYPES = {0: "update", 1: "key cancellation", 2: "root entry hash 256", 3: "root entry hash 384"}
MAX_GBS_PREFIX = 1 << 20

# axlf section kinds that carry what xbmgmt flashes (XRT xclbin.h axlf_section_kind).
XSABIN_FLASH_SECTIONS = {12: "MCS", 13: "BMC", 18: "PDI", 24: "ASK_FLASH"}
_VBNV_BOARD = re.compile(r"^[a-z]+_([a-z]+[0-9]+[a-z0-9]*)_")

FirmwareFormat = str  # "intel-secure-update" | "xsabin" | "accord-sim"


@dataclass(frozen=True)
class FirmwareFacts:
    """What a firmware container says of itself. `target_*` None: the bytes do not say."""

    format: FirmwareFormat
    version: str | None
    target: str | None = None
    target_vendor: str | None = None
    target_type: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Stored in the image's `parsed` facts; `domain.firmware.FirmwareTarget.from_facts` reads it."""
        return {
            "firmware_format": self.format,
            "version": self.version,
            "target": self.target,
            "target_vendor": self.target_vendor,
            "target_type": self.target_type,
            **self.detail,
        }


def _sim(src: HeaderSource) -> FirmwareFacts:
    line = src.read("accord-sim", 0, min(src.size, len(SIM_MAGIC) + SIM_HEADER_MAX), "header")
    line = line[len(SIM_MAGIC) :]
    end = line.find(b"\n")
    if end < 0:
        raise ImageFormatError("accord-sim", "truncated: the JSON header line has no end")
    try:
        header = json.loads(line[:end])
    except ValueError as exc:
        raise ImageFormatError("accord-sim", f"the header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ImageFormatError("accord-sim", "the header is not a JSON object")
    version, target = header.get("version"), header.get("target", "")
    if not isinstance(version, str) or not version.strip():
        raise ImageFormatError("accord-sim", "the header declares no version")
    if not isinstance(target, str):
        raise ImageFormatError("accord-sim", "the header's target is not a string")
    digest = header.get("payload_sha256")
    detail = {"payload_sha256": digest} if isinstance(digest, str) else {}
    return FirmwareFacts("accord-sim", version.strip(), target.strip() or None, detail=detail)


def _intel(src: HeaderSource) -> FirmwareFacts:
    start = 0
    if src.peek(len(GBS_MAGIC)) == GBS_MAGIC:
        (length,) = struct.unpack("<I", src.read("intel-secure-update", len(GBS_MAGIC), 4, "metadata length"))
        if length > MAX_GBS_PREFIX:
            raise ImageFormatError(
                "intel-secure-update", f"metadata of {length} bytes exceeds {MAX_GBS_PREFIX}"
            )
        start = len(GBS_MAGIC) + 4 + length
    if start and (
        start + 4 > src.size
        or struct.unpack("<I", src.read("gbs", start, 4, "magic"))[0] != INTEL_BLOCK0_MAGIC
    ):
        raise ImageFormatError(
            "intel-secure-update",
            "a .gbs bitstream with no secure-update block 0 after its metadata, not firmware",
        )
    block0 = src.read("intel-secure-update", start, INTEL_BLOCK0.size, "block 0")
    magic, length, contype, _, _, _, _ = INTEL_BLOCK0.unpack(block0)
    if magic != INTEL_BLOCK0_MAGIC:
        raise ImageFormatError(
            "intel-secure-update", f"block 0 magic is {magic:#010x}, not {INTEL_BLOCK0_MAGIC:#010x}"
        )
    (b1_magic,) = struct.unpack(
        "<I", src.read("intel-secure-update", start + INTEL_BLOCK0.size, 4, "block 1")
    )
    if b1_magic != INTEL_BLOCK1_MAGIC:
        raise ImageFormatError(
            "intel-secure-update", f"block 1 magic is {b1_magic:#010x}, not {INTEL_BLOCK1_MAGIC:#010x}"
        )
    content, subtype = contype & 0xFF, (contype >> 8) & 0xFF
    if length == 0 or length % 128:
        raise ImageFormatError(
            "intel-secure-update", f"payload length {length} is not a positive multiple of 128"
        )
    end = start + INTEL_PAYLOAD_OFFSET + length
    if end > src.size:
        raise ImageFormatError(
            "intel-secure-update", f"truncated: the payload ends at {end} but the image has {src.size} bytes"
        )
    if content not in INTEL_FIRMWARE_TYPES:
        what = INTEL_CONTENT_TYPES.get(content, f"unknown content type {content}")
        raise ImageFormatError("intel-secure-update", f"a {what}, not firmware for the card")
    if subtype != 0:
        what = INTEL_SUBTYPES.get(subtype, f"unknown subtype {subtype}")
        raise ImageFormatError(
            "intel-secure-update", f"a {what} image: irreversible key provisioning, not a firmware update"
        )
    detail = {"content_type": INTEL_CONTENT_TYPES[content], "payload_length": length}
    return FirmwareFacts("intel-secure-update", None, None, "8086", "FPGA", detail)


def _xsabin(src: HeaderSource) -> FirmwareFacts:
    fields = AXLF_HEADER.unpack(src.read("xsabin", AXLF_HEADER_OFFSET, AXLF_HEADER.size, "axlf header"))
    length, count, vbnv_raw = fields[0], fields[12], fields[9]
    if length != src.size:
        raise ImageFormatError("xsabin", f"m_length is {length} but the image has {src.size} bytes")
    if count > MAX_SECTIONS:
        raise ImageFormatError("xsabin", f"m_numSections {count} exceeds {MAX_SECTIONS}")
    table = src.read("xsabin", SECTIONS_OFFSET, count * SECTION_HEADER.size, "section headers")
    kinds = []
    for index in range(count):
        kind, _, offset, size = SECTION_HEADER.unpack_from(table, index * SECTION_HEADER.size)
        if offset + size > length:
            raise ImageFormatError("xsabin", f"section {index} ({offset}+{size}) runs past m_length {length}")
        kinds.append(kind)
    flashable = sorted({XSABIN_FLASH_SECTIONS[k] for k in kinds if k in XSABIN_FLASH_SECTIONS})
    if not flashable:
        raise ImageFormatError(
            "xsabin", "no MCS, PDI, ASK_FLASH or BMC section: a user xclbin, not a shell for xbmgmt"
        )
    vbnv = vbnv_raw.split(b"\0", 1)[0].decode("utf-8", "replace").strip()
    if not vbnv:
        raise ImageFormatError("xsabin", "the platform VBNV is empty, so the shell it installs is unknown")
    board = _VBNV_BOARD.match(vbnv.lower())
    detail = {"platform": vbnv, "sections": flashable}
    return FirmwareFacts("xsabin", vbnv, board.group(1) if board else None, "10ee", "FPGA", detail)


def parse_firmware(source: bytes | BinaryIO) -> FirmwareFacts | None:
    """Sniff and parse a firmware container; None when no known magic matches, ImageFormatError
    (with the reason) when one does but the bytes are broken or not flashable firmware."""
    src = HeaderSource(source)
    head = src.peek(16)
    if head.startswith(SIM_MAGIC):
        return _sim(src)
    if head.startswith(XCLBIN2_MAGIC):
        return _xsabin(src)
    if head.startswith(GBS_MAGIC) or head[:4] == struct.pack("<I", INTEL_BLOCK0_MAGIC):
        return _intel(src)
    return None


def parse_firmware_file(path: Path | str) -> FirmwareFacts | None:
    with open(path, "rb") as image:
        return parse_firmware(image)
