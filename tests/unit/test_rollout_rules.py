"""Firmware rollout rules without a database: waves from canary and wave size, when a campaign
moves on, stops by itself or completes, what pause, resume and abort allow, and what a drained
device does next."""

from __future__ import annotations

import pytest

from accord.domain.errors import BadState, InvalidInput
from accord.domain.rollout import (
    DeviceStep,
    Member,
    RolloutState,
    WaveSize,
    after_drain,
    apply_action,
    decide,
    parse_wave,
    plan_waves,
    skip_before_start,
)

P, D, F, S, X, K = (
    DeviceStep.PENDING,
    DeviceStep.DRAINING,
    DeviceStep.FLASHING,
    DeviceStep.SUCCEEDED,
    DeviceStep.FAILED,
    DeviceStep.SKIPPED,
)


def members(*pairs: tuple[int, DeviceStep]) -> list[Member]:
    return [Member(wave, step) for wave, step in pairs]


@pytest.mark.parametrize(
    ("devices", "canary", "wave", "waves"),
    [
        (5, 1, WaveSize(count=2), [0, 1, 1, 2, 2]),
        (5, 0, WaveSize(count=2), [1, 1, 2, 2, 3]),
        (9, 1, WaveSize(percent=25), [0, 1, 1, 2, 2, 3, 3, 4, 4]),  # 25% of the 8 after the canary
        (3, 5, WaveSize(count=1), [0, 0, 0]),  # a canary larger than the fleet is the whole fleet
        (4, 1, WaveSize(percent=100), [0, 1, 1, 1]),
        (2, 1, WaveSize(percent=1), [0, 1]),  # a percentage never rounds a wave down to nothing
    ],
)
def test_waves_from_canary_and_wave_size(devices: int, canary: int, wave: WaveSize, waves: list[int]) -> None:
    assert plan_waves(devices, canary, wave) == waves


@pytest.mark.parametrize("value", [0, -1, "0%", "101%", "25 percent", "", True, 2.5, None])
def test_bad_wave_sizes_are_refused(value: object) -> None:
    with pytest.raises(InvalidInput, match="'wave'"):
        parse_wave(value)


def test_wave_sizes_parse_as_counts_or_percentages() -> None:
    assert parse_wave(3) == WaveSize(count=3)
    assert parse_wave("3") == WaveSize(count=3)
    assert parse_wave(" 25% ") == WaveSize(percent=25)
    assert str(parse_wave("25%")) == "25%" and str(parse_wave(4)) == "4"


def test_no_devices_no_rollout() -> None:
    with pytest.raises(InvalidInput, match="at least one device"):
        plan_waves(0, 1, WaveSize(count=1))


def test_a_wave_starts_only_when_the_one_before_ended() -> None:
    fleet = members((0, F), (1, P), (1, P))
    assert decide("running", 0, fleet, 0) == decide("running", 0, fleet, 0)
    assert decide("running", 0, fleet, 0).start_wave == 0  # still the canary's wave
    after_canary = members((0, S), (1, P), (1, P))
    decision = decide("running", 0, after_canary, 0)
    assert (decision.state, decision.current_wave, decision.start_wave) == (RolloutState.RUNNING, 1, 1)


def test_a_failed_canary_stops_the_campaign_before_wave_one_whatever_max_failures() -> None:
    decision = decide("running", 0, members((0, X), (1, P), (1, P)), max_failures=5)
    assert decision.state is RolloutState.FAILED
    assert decision.current_wave == 0 and decision.start_wave is None
    assert decision.give_up_reason is not None and "canary failed" in decision.give_up_reason


def test_failures_over_the_threshold_stop_it_and_within_it_do_not() -> None:
    fleet = members((0, S), (1, X), (1, S), (2, P))
    assert decide("running", 1, fleet, max_failures=1).start_wave == 2
    stopped = decide("running", 1, fleet, max_failures=0)
    assert stopped.state is RolloutState.FAILED
    assert stopped.give_up_reason is not None and "more than max_failures=0" in stopped.give_up_reason


def test_a_failure_stops_it_even_while_other_devices_of_the_wave_are_flashing() -> None:
    decision = decide("running", 1, members((0, S), (1, X), (1, F), (2, P)), 0)
    assert decision.state is RolloutState.FAILED and decision.give_up_reason is not None


def test_skipped_devices_end_a_wave_and_are_no_failures() -> None:
    decision = decide("running", 1, members((0, S), (1, K), (1, K), (2, P)), 0)
    assert (decision.state, decision.current_wave) == (RolloutState.RUNNING, 2)
    assert decide("running", 2, members((0, S), (1, K), (2, S)), 0).state is RolloutState.COMPLETED


def test_paused_starts_nothing_and_aborted_gives_untouched_devices_up() -> None:
    paused = decide("paused", 1, members((0, S), (1, P)), 0)
    assert (paused.state, paused.start_wave, paused.give_up_reason) == (RolloutState.PAUSED, None, None)
    aborted = decide("aborted", 1, members((0, S), (1, P)), 0)
    assert aborted.start_wave is None and aborted.give_up_reason == "the rollout was aborted"


@pytest.mark.parametrize(
    ("state", "action", "target"),
    [
        ("running", "pause", RolloutState.PAUSED),
        ("paused", "resume", RolloutState.RUNNING),
        ("running", "abort", RolloutState.ABORTED),
        ("paused", "abort", RolloutState.ABORTED),
    ],
)
def test_allowed_operator_actions(state: str, action: str, target: RolloutState) -> None:
    assert apply_action("r1", state, action) is target


@pytest.mark.parametrize(
    ("state", "action"),
    [
        ("paused", "pause"),
        ("running", "resume"),
        ("completed", "abort"),
        ("failed", "resume"),
        ("aborted", "resume"),
        ("completed", "pause"),
    ],
)
def test_refused_operator_actions_are_conflicts(state: str, action: str) -> None:
    with pytest.raises(BadState, match=f"r1 is {state}"):
        apply_action("r1", state, action)


@pytest.mark.parametrize(
    ("policy", "running", "in_use", "busy", "next_step"),
    [
        ("skip", True, False, False, "flash"),
        ("skip", True, True, False, "skip"),
        ("wait", True, True, False, "wait"),
        ("wait", True, False, True, "wait"),  # another operation on the card goes first
        ("skip", False, False, False, "wait"),  # paused: no new flash
    ],
)
def test_what_a_drained_device_does_next(
    policy: str, running: bool, in_use: bool, busy: bool, next_step: str
) -> None:
    assert after_drain(policy, running, in_use, busy) == next_step


def test_devices_left_alone_when_their_wave_starts() -> None:
    assert skip_before_start("1.0.0", "2.0.0", None, False) is None
    assert skip_before_start(None, "2.0.0", None, False) is None
    assert "already runs firmware 2.0.0" in str(skip_before_start("2.0.0", "2.0.0", None, False))
    assert "already runs firmware 3.0.0" in str(skip_before_start("3.0.0", "2.0.0", None, False))
    assert "quarantined" in str(skip_before_start("1.0.0", "2.0.0", "flash interrupted", False))
    assert "host is lost" in str(skip_before_start("1.0.0", "2.0.0", None, True))
