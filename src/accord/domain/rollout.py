"""Firmware rollout rules, as plain Python: how a campaign splits a fleet into waves, when it
moves to the next wave, when it stops by itself, and which operator actions each state allows.

    running --pause--> paused --resume--> running
       |                  |
       +------abort-------+--> aborted
       +--(every wave done)--> completed
       +--(failures over max_failures, or any canary failure)--> failed

One device goes pending → draining (disabled; waiting for its handles to be released, or
skipped when they are in use and the policy says so) → flashing (one firmware operation, never
retried) → succeeded | failed; or it is skipped (in use, already on this version, host lost,
campaign stopped). A device never goes back: nothing is flashed twice by a campaign.

Wave 0 is the canary; waves 1… follow, each started only when the one before has ended.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from accord.domain.errors import BadState, InvalidInput
from accord.domain.firmware import is_upgrade


class RolloutState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    ABORTED = "aborted"


class DeviceStep(StrEnum):
    PENDING = "pending"
    DRAINING = "draining"
    FLASHING = "flashing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class InUsePolicy(StrEnum):
    WAIT = "wait"  # keep the device drained until its handles are released
    SKIP = "skip"  # give it back at once and leave it on its old firmware


ROLLOUT_STATES = tuple(s.value for s in RolloutState)
DEVICE_STEPS = tuple(s.value for s in DeviceStep)
ENDED_STEPS = frozenset({DeviceStep.SUCCEEDED, DeviceStep.FAILED, DeviceStep.SKIPPED})
# Steps a device may be in while nothing of the campaign touched its firmware yet.
UNTOUCHED_STEPS = frozenset({DeviceStep.PENDING, DeviceStep.DRAINING})
FINAL_STATES = frozenset({RolloutState.COMPLETED, RolloutState.FAILED, RolloutState.ABORTED})

# The operator's actions and the states each may start from.
ACTIONS: dict[str, tuple[frozenset[RolloutState], RolloutState]] = {
    "pause": (frozenset({RolloutState.RUNNING}), RolloutState.PAUSED),
    "resume": (frozenset({RolloutState.PAUSED}), RolloutState.RUNNING),
    "abort": (frozenset({RolloutState.RUNNING, RolloutState.PAUSED}), RolloutState.ABORTED),
}

DEFAULT_CANARY = 1
DEFAULT_WAVE = "25%"
MAX_DEVICES = 10_000
_PERCENT = re.compile(r"^\s*(\d{1,3})\s*%\s*$")


def apply_action(uuid: str, state: str, action: str) -> RolloutState:
    """The state after an operator's pause, resume or abort; BadState (409) when not allowed."""
    allowed, target = ACTIONS[action]
    if RolloutState(state) not in allowed:
        starts = " or ".join(sorted(s.value for s in allowed))
        raise BadState(f"Rollout {uuid} is {state}; only a {starts} rollout can be {action}d.")
    return target


@dataclass(frozen=True)
class WaveSize:
    """A fixed number of devices per wave, or a percentage of the devices after the canary."""

    count: int | None = None
    percent: int | None = None

    def size(self, devices: int) -> int:
        if self.count is not None:
            return self.count
        return max(1, math.ceil(devices * (self.percent or 0) / 100))

    def __str__(self) -> str:
        return f"{self.percent}%" if self.percent is not None else str(self.count)


def parse_wave(value: object) -> WaveSize:
    """`wave`: an integer >= 1, or "N%" with 1 <= N <= 100."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= MAX_DEVICES:
            raise InvalidInput(f"'wave' must be between 1 and {MAX_DEVICES} devices, not {value}.")
        return WaveSize(count=value)
    if isinstance(value, str):
        if value.strip().isdigit():
            return parse_wave(int(value))
        match = _PERCENT.match(value)
        if match and 1 <= int(match.group(1)) <= 100:
            return WaveSize(percent=int(match.group(1)))
    raise InvalidInput(
        f"'wave' must be a number of devices (>= 1) or a percentage like \"25%\", not {value!r}."
    )


def parse_count(name: str, value: object, default: int) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_DEVICES:
        raise InvalidInput(f"'{name}' must be an integer from 0 to {MAX_DEVICES}, not {value!r}.")
    return value


def parse_policy(value: object) -> InUsePolicy:
    if value is None:
        return InUsePolicy.SKIP
    if value not in {p.value for p in InUsePolicy}:
        raise InvalidInput(f"'in_use' must be 'wait' or 'skip', not {value!r}.")
    return InUsePolicy(str(value))


def plan_waves(devices: int, canary: int, wave: WaveSize) -> list[int]:
    """The wave of each device, in rollout order: the first `canary` are wave 0, the rest go in
    waves of `wave` devices numbered from 1."""
    if devices < 1:
        raise InvalidInput("A rollout needs at least one device.")
    if devices > MAX_DEVICES:
        raise InvalidInput(f"A rollout takes at most {MAX_DEVICES} devices.")
    canaries = min(canary, devices)
    rest = devices - canaries
    size = wave.size(rest)
    return [0] * canaries + [1 + i // size for i in range(rest)]


@dataclass(frozen=True)
class Member:
    """What the campaign's rules need of one device: its wave and its step."""

    wave: int
    step: DeviceStep


@dataclass(frozen=True)
class Decision:
    """What the campaign does next: its state and wave, which wave's pending devices to start
    draining (None: none), and why untouched devices are given up (None: they are not)."""

    state: RolloutState
    current_wave: int
    start_wave: int | None = None
    give_up_reason: str | None = None


def failures(members: Sequence[Member]) -> int:
    return sum(1 for m in members if m.step is DeviceStep.FAILED)


def stop_reason(members: Sequence[Member], max_failures: int) -> str | None:
    """Why the campaign must stop now, or None. A failed canary always stops it: the canary is
    there to catch a bad image before the fleet gets it."""
    if any(m.wave == 0 and m.step is DeviceStep.FAILED for m in members):
        return "the canary failed"
    count = failures(members)
    if count > max_failures:
        return f"{count} device(s) failed, more than max_failures={max_failures}"
    return None


def decide(state: str, current_wave: int, members: Sequence[Member], max_failures: int) -> Decision:
    """The next move of a campaign. Devices already flashing always finish (a flash is never cut
    off); a paused or ended campaign starts nothing new."""
    current = RolloutState(state)
    if current is not RolloutState.RUNNING:
        reason = "the rollout was aborted" if current is RolloutState.ABORTED else None
        return Decision(current, current_wave, give_up_reason=reason)
    reason = stop_reason(members, max_failures)
    if reason is not None:
        return Decision(RolloutState.FAILED, current_wave, give_up_reason=f"rollout stopped: {reason}")
    waves = sorted({m.wave for m in members})
    wave = current_wave
    for candidate in waves:
        if candidate < wave:
            continue
        in_wave = [m for m in members if m.wave == candidate]
        if any(m.step not in ENDED_STEPS for m in in_wave):
            return Decision(RolloutState.RUNNING, candidate, start_wave=candidate)
        wave = candidate
    return Decision(RolloutState.COMPLETED, max(waves, default=current_wave))


def counts(steps: Sequence[str]) -> dict[str, int]:
    found = {step: 0 for step in DEVICE_STEPS}
    for step in steps:
        found[step] += 1
    return found


def skip_before_start(
    current_version: str | None, new_version: str, quarantine_reason: str | None, host_lost: bool
) -> str | None:
    """Why a device is left alone when its wave starts (nothing touched yet), or None to drain it.
    A campaign never downgrades or re-flashes: that stays a deliberate single flash with force."""
    if host_lost:
        return "its host is lost"
    if quarantine_reason:
        return f"quarantined ({quarantine_reason}); flash it alone once checked"
    if current_version and not is_upgrade(current_version, new_version):
        return f"already runs firmware {current_version} (image is {new_version})"
    return None


def after_drain(policy: str, running: bool, in_use: bool, busy: bool) -> str:
    """What a drained device does next: "flash", "wait" or "skip". A paused campaign starts no
    flash; handles still in use follow the policy; another operation on the device is waited for."""
    if not running:
        return "wait"
    if in_use:
        return "skip" if InUsePolicy(policy) is InUsePolicy.SKIP else "wait"
    if busy:
        return "wait"
    return "flash"
