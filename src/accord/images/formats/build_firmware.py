"""Builders of valid firmware containers, for tests, the simulator and the demo.

As with the bitstream builders, the headers are real and the payloads are placeholders: Accord's
parsers (and the vendors' header readers) accept them, but no card could run the bytes.
"""

from __future__ import annotations

import hashlib
import json
import struct

from accord.images.formats.build import build_xclbin_sections
from accord.images.formats.firmware import (
    INTEL_BLOCK0,
    INTEL_BLOCK0_MAGIC,
    INTEL_BLOCK1_MAGIC,
    INTEL_BLOCK1_SIZE,
    SIM_MAGIC,
)
from accord.images.formats.gbs import GBS_MAGIC

MCS_SECTION = 12
BMC_SECTION = 13
DEMO_PAYLOAD = b"ACCORD DEMO FIRMWARE - NOT FOR HARDWARE\n".ljust(64, b"\0")


def build_sim_firmware(
    version: str, target: str = "", payload: bytes = b"\0" * 32, *, corrupt: bool = False
) -> bytes:
    """Accord's simulated firmware: the simulated flash tools check `payload_sha256` as a card
    checks its image, so `corrupt=True` gives bytes that pass upload and fail at the flash."""
    digest = hashlib.sha256(payload).hexdigest()
    header = {"version": version, "target": target, "payload_sha256": digest}
    body = payload if not corrupt else bytes([payload[0] ^ 0xFF]) + payload[1:] if payload else b"\x01"
    return SIM_MAGIC + json.dumps(header).encode() + b"\n" + body


def build_sim_firmware_for(model: str, version: str) -> bytes:
    """A valid simulated firmware image for devices of `model` (e.g. "Intel FPGA PAC N3000",
    "Alveo U250", or a PCI id "8086:0b30"), carrying `version`; the payload says it is a demo."""
    return build_sim_firmware(version, model, DEMO_PAYLOAD)


def build_intel_secure_update(
    payload: bytes = b"\0" * 128,
    *,
    content_type: int = 0,
    subtype: int = 0,
    gbs_metadata: bytes | None = None,
) -> bytes:
    """An unsigned-layout secure-update image: Block 0, Block 1 (signature block magic only), payload
    padded to 128 bytes; `gbs_metadata` prepends the GBS GUID + length + JSON of signed PR images."""
    payload = payload + b"\0" * (-len(payload) % 128)
    sha256 = hashlib.sha256(payload).digest()
    sha384 = hashlib.sha384(payload).digest()
    contype = content_type | (subtype << 8)
    block0 = INTEL_BLOCK0.pack(INTEL_BLOCK0_MAGIC, len(payload), contype, 0, sha256, sha384, b"")
    block1 = struct.pack("<I", INTEL_BLOCK1_MAGIC).ljust(INTEL_BLOCK1_SIZE, b"\0")
    prefix = b""
    if gbs_metadata is not None:
        prefix = GBS_MAGIC + struct.pack("<I", len(gbs_metadata)) + gbs_metadata
    return prefix + block0 + block1 + payload


def build_xsabin(platform_vbnv: str, *, sections: tuple[int, ...] = (MCS_SECTION, BMC_SECTION)) -> bytes:
    """A shell/base image for xbmgmt: an axlf container with the given section kinds."""
    return build_xclbin_sections(platform_vbnv, [(kind, f"s{kind}", b"\0" * 64) for kind in sections])
