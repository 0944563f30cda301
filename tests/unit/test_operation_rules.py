"""The operation state machine and the lost-lease rules, as plain Python (no HTTP, no database)."""

from __future__ import annotations

import pytest

from accord.domain.errors import BadState
from accord.domain.operation import (
    FLASH_INTERRUPTED,
    OperationState,
    after_lost_lease,
    can_transition,
    check_transition,
    lost_lease_error,
    result_refusal,
    retried_after_interruption,
)

S = OperationState
ALLOWED = {
    (S.PENDING, S.RUNNING),
    (S.PENDING, S.FAILED),
    (S.RUNNING, S.SUCCEEDED),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.PENDING),
}


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
def test_only_the_listed_transitions_are_allowed(current: S, target: S) -> None:
    assert can_transition(current, target) == ((current, target) in ALLOWED)
    if (current, target) not in ALLOWED:
        with pytest.raises(BadState):
            check_transition(current, target)


def test_finished_operations_never_change() -> None:
    for state in (S.SUCCEEDED, S.FAILED):
        assert not any(can_transition(state, target) for target in S)


@pytest.mark.parametrize("kind", ["program", "create_mdev", "remove_mdev", "set_vfs"])
def test_quick_work_is_retried_until_its_attempts_run_out(kind: str) -> None:
    assert retried_after_interruption(kind)
    assert after_lost_lease(kind, 1, 3) is S.PENDING
    assert after_lost_lease(kind, 2, 3) is S.PENDING
    assert after_lost_lease(kind, 3, 3) is S.FAILED
    assert "retrying" in lost_lease_error(kind, "h", 1, 3)
    assert "after 3 attempts" in lost_lease_error(kind, "h", 3, 3)


def test_a_flash_is_never_retried_after_its_agent_went_silent() -> None:
    assert not retried_after_interruption("firmware")
    assert after_lost_lease("firmware", 1, 3) is S.FAILED
    assert FLASH_INTERRUPTED in lost_lease_error("firmware", "fpga-1", 1, 3)
    assert "fpga-1" in lost_lease_error("firmware", "fpga-1", 1, 3)


def test_only_the_running_attempt_may_report() -> None:
    assert result_refusal("u", "running", 2, None) is None
    assert result_refusal("u", "running", 2, 2) is None
    refusal = result_refusal("u", "running", 2, 1)
    assert refusal is not None and "attempt 2 is running" in refusal
    for state in ("pending", "succeeded", "failed"):
        refusal = result_refusal("u", state, 1, 1)
        assert refusal is not None and f"is {state}, no longer running" in refusal
