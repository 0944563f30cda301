"""When a device may offer anything: one rule for binding, the scheduler and the Placement mirror.

A device offers nothing while it is disabled (maintaining), quarantined, unusable by health, lost
from its host, or on a host whose agent went silent. The reason is kept so a refused bind can say
which of these it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceCondition:
    """The facts about one device that decide whether it may be used."""

    uuid: str
    status: str  # enabled | maintaining
    health: str = "ok"  # ok | degraded | unusable
    health_reasons: Sequence[str] = ()
    lost: bool = False  # the device vanished from its host while a handle was in use
    quarantine_reason: str | None = None
    hostname: str = ""
    host_lost: bool = False  # the host's agent stopped reporting


def _problem(status: str, health: str, lost: bool, quarantine_reason: str | None) -> str | None:
    """The first thing that stops a device, as a word; the one place the rule is written."""
    if status != "enabled":
        return "disabled"
    if quarantine_reason:
        return "quarantined"
    if health == "unusable" or lost:
        return "unusable"
    return None


def unusable_reason(device: DeviceCondition) -> str | None:
    """Why the device may not be used now, or None when it may."""
    problem = _problem(device.status, device.health, device.lost, device.quarantine_reason)
    if problem == "disabled":
        return f"Device {device.uuid} is disabled (maintaining); it cannot be bound."
    if problem == "quarantined":
        return f"Device {device.uuid} is quarantined: {device.quarantine_reason}"
    if problem == "unusable":
        return f"Device {device.uuid} cannot be used: {'; '.join(device.health_reasons) or 'lost'}."
    if device.host_lost:
        return f"Host {device.hostname!r} has stopped reporting; its devices cannot be bound."
    return None


def device_usable(status: str, health: str, lost: bool, quarantine_reason: str | None) -> bool:
    """The same rule on bare columns, for the scheduler's index and the Placement mirror, which
    read thousands of rows per rebuild (no object per row); a lost host is checked beside it."""
    return _problem(status, health, lost, quarantine_reason) is None
