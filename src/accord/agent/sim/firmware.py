"""The firmware container the simulated flash tools accept.

Real flash images (Intel secure-update `.bin`, Xilinx `.xsabin`, NIC NVM packages) carry their
version inside; the simulated tools need the same property, so a simulated firmware image is
`ACCORD-SIMFW1\\n` + one JSON line {"version", "target"} + payload. Flashing one writes the version
where the kernel shows the device's firmware version; a bad container fails like a bad flash.
"""

from __future__ import annotations

import json
from pathlib import Path

MAGIC = b"ACCORD-SIMFW1\n"


class BadFirmwareImage(ValueError):
    """Not a simulated firmware container, or one without a version."""


def build_sim_firmware(version: str, target: str = "", payload: bytes = b"\0" * 32) -> bytes:
    header = json.dumps({"version": version, "target": target}).encode() + b"\n"
    return MAGIC + header + payload


def read_sim_firmware(path: Path) -> tuple[str, str]:
    """(version, target) of a container, or BadFirmwareImage."""
    with open(path, "rb") as handle:
        if handle.read(len(MAGIC)) != MAGIC:
            raise BadFirmwareImage(f"{path.name} is not a firmware image this flash tool accepts")
        line = handle.readline(4096)
    try:
        header = json.loads(line)
        version, target = str(header["version"]), str(header.get("target", ""))
    except (ValueError, KeyError, TypeError) as exc:
        raise BadFirmwareImage(f"{path.name} has an unreadable firmware header") from exc
    if not version:
        raise BadFirmwareImage(f"{path.name} declares no version")
    return version, target
