"""The firmware container the simulated flash tools accept (format: `images/formats/firmware.py`).

Real flash images carry their version inside and the card checks the payload before it commits
it; the simulated tools do the same: the version comes from the header, and a payload whose
sha256 differs from the header's `payload_sha256` fails like a flash the card refused.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from accord.images.formats.build_firmware import build_sim_firmware, build_sim_firmware_for
from accord.images.formats.firmware import SIM_MAGIC, parse_firmware
from accord.images.formats.model import ImageFormatError

MAGIC = SIM_MAGIC
__all__ = ["MAGIC", "BadFirmwareImage", "build_sim_firmware", "build_sim_firmware_for", "read_sim_firmware"]


class BadFirmwareImage(ValueError):
    """Not a simulated firmware container, one without a version, or a corrupted payload."""


def read_sim_firmware(path: Path) -> tuple[str, str]:
    """(version, target) of a container whose payload is intact, or BadFirmwareImage."""
    with open(path, "rb") as handle:
        if handle.read(len(SIM_MAGIC)) != SIM_MAGIC:
            raise BadFirmwareImage(f"{path.name} is not a firmware image this flash tool accepts")
        handle.seek(0)
        try:
            facts = parse_firmware(handle)
        except ImageFormatError as exc:
            raise BadFirmwareImage(f"{path.name} has an unreadable firmware header: {exc.reason}") from exc
        if facts is None or facts.version is None:
            raise BadFirmwareImage(f"{path.name} declares no version")
        expected = facts.detail.get("payload_sha256")
        if expected is not None:
            handle.seek(0)
            handle.readline()
            handle.readline()
            digest = hashlib.sha256()
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
            if digest.hexdigest() != expected:
                raise BadFirmwareImage(
                    f"{path.name}: payload digest does not match its header; image refused"
                )
    return facts.version, facts.target or ""
