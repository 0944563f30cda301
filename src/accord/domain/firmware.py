"""Firmware version rules: how versions order, and which flashes need an operator's `force`."""

from __future__ import annotations

import re

from accord.domain.errors import Conflict

VersionKey = tuple[tuple[int, str], ...]


def version_key(version: str) -> VersionKey:
    """Compare dotted versions part by part, numbers numerically ("1.10" > "1.9"); a word part
    sorts below any number ("2.0-rc1" < "2.0.1")."""
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[.\-_+]", version.strip()))


def is_upgrade(current: str | None, new: str) -> bool:
    return not current or version_key(new) > version_key(current)


def check_flash_allowed(
    device_uuid: str, current: str | None, new: str, image_uuid: str, force: bool
) -> None:
    """A downgrade or a re-flash of the running version needs force: both are rarely meant."""
    if force or is_upgrade(current, new):
        return
    raise Conflict(
        f"Device {device_uuid} runs firmware {current}; image {image_uuid} is {new}. "
        "Downgrades and re-flashes need force=true."
    )
