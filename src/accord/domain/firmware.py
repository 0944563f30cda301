"""Firmware rules: how versions order, which flashes need an operator's `force`, and whether an
image's own target (recorded from its bytes at upload) fits a device. Pure, so every path that
flashes (the API, rollouts, an Ironic step) checks the same way before anything is touched."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from accord.domain.errors import Conflict, InvalidInput

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


@dataclass(frozen=True)
class DeviceIdentity:
    """What a device says it is: enough to tell whether a firmware image was built for it."""

    type: str
    vendor: str  # PCI vendor id, e.g. "8086"
    product: str  # PCI device id of the function Accord reports
    model: str


@dataclass(frozen=True)
class FirmwareTarget:
    """What a firmware image's own bytes say it is for (recorded at upload); None: not said."""

    format: str
    vendor: str | None = None
    device_type: str | None = None
    model: str | None = None  # a device model, a board ("u250"), or "vendor:product"

    @classmethod
    def from_facts(cls, facts: Mapping[str, Any] | None) -> FirmwareTarget | None:
        """The target recorded in an image's parsed facts; None for an image recorded before
        Accord checked firmware at upload (nothing to compare)."""
        if not facts or not isinstance(facts.get("firmware_format"), str):
            return None
        return cls(
            format=facts["firmware_format"],
            vendor=facts.get("target_vendor") or None,
            device_type=facts.get("target_type") or None,
            model=facts.get("target") or None,
        )


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[^0-9a-z]+", text.lower()) if w]


def model_matches(target: str, device: DeviceIdentity) -> bool:
    """A target names the device by its PCI id ("8086:0b30"), its whole model, or words all
    found in the model ("u250" in "Alveo U250", "PAC N3000" in "Intel FPGA PAC N3000")."""
    if target.lower() == f"{device.vendor}:{device.product}".lower():
        return True
    wanted, have = _words(target), _words(device.model)
    if not wanted:
        return False
    size = len(wanted)
    return any(have[i : i + size] == wanted for i in range(len(have) - size + 1))


def target_mismatch(target: FirmwareTarget | None, device: DeviceIdentity) -> str | None:
    """Why the image must not be flashed onto this device (checked before anything is touched),
    or None when its bytes name nothing this device contradicts."""
    if target is None:
        return None
    if target.vendor and target.vendor.lower() != device.vendor.lower():
        return (
            f"it is {target.format} firmware for PCI vendor {target.vendor}, "
            f"the device's vendor is {device.vendor}"
        )
    if target.device_type and target.device_type.upper() != device.type.upper():
        return f"it is {target.format} firmware for a {target.device_type}, the device is a {device.type}"
    if target.model and not model_matches(target.model, device):
        return f"it is {target.format} firmware for {target.model!r}, the device is a {device.model!r}"
    return None


def check_target(
    device_uuid: str, image_uuid: str, target: FirmwareTarget | None, device: DeviceIdentity
) -> None:
    reason = target_mismatch(target, device)
    if reason is not None:
        raise InvalidInput(f"Image {image_uuid} cannot be flashed onto device {device_uuid}: {reason}.")
