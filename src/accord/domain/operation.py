"""The rules of an agent operation's life, as plain Python (no HTTP, no SQL).

An operation is queued (pending), claimed by its host's agent with a lease (running), and ends
succeeded or failed. The agent renews the lease while it works, so a lease runs out only when the
agent went silent. What happens then depends on the kind: programming a region or creating an
mdev takes seconds and can safely run again, so it is queued for another attempt; a firmware
flash cut off mid-write may have left a partial image, so it is never run again on its own: it
fails and the device waits for an operator.
"""

from __future__ import annotations

from enum import StrEnum

from accord.domain.errors import BadState


class OperationState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


ALLOWED_TARGETS: dict[OperationState, frozenset[OperationState]] = {
    # claimed by the agent, or cancelled before it ran
    OperationState.PENDING: frozenset({OperationState.RUNNING, OperationState.FAILED}),
    # the agent's result; or its lease ran out (retried, or failed)
    OperationState.RUNNING: frozenset(
        {OperationState.SUCCEEDED, OperationState.FAILED, OperationState.PENDING}
    ),
    OperationState.SUCCEEDED: frozenset(),
    OperationState.FAILED: frozenset(),
}

FINISHED_STATES = frozenset({OperationState.SUCCEEDED, OperationState.FAILED})

# Kinds that are never started again after their agent went silent mid-way.
NOT_RETRIED_AFTER_INTERRUPTION = frozenset({"firmware"})

# Every error and quarantine reason for a flash cut off mid-way contains this phrase.
FLASH_INTERRUPTED = "flash interrupted"


def can_transition(current: str, target: OperationState) -> bool:
    return target in ALLOWED_TARGETS[OperationState(current)]


def check_transition(current: str, target: OperationState) -> None:
    if not can_transition(current, target):
        allowed = ", ".join(sorted(s.value for s in ALLOWED_TARGETS[OperationState(current)])) or "nothing"
        raise BadState(f"An operation that is {current} cannot become {target.value} (allowed: {allowed}).")


def retried_after_interruption(kind: str) -> bool:
    """Whether an operation of this kind may run again after its agent stopped mid-way."""
    return kind not in NOT_RETRIED_AFTER_INTERRUPTION


def after_lost_lease(kind: str, attempts: int, max_attempts: int) -> OperationState:
    """Where a running operation goes when its lease runs out."""
    if retried_after_interruption(kind) and attempts < max_attempts:
        return OperationState.PENDING
    return OperationState.FAILED


def lost_lease_error(kind: str, hostname: str, attempts: int, max_attempts: int) -> str:
    """The operation's error after its lease ran out (see `after_lost_lease`)."""
    if not retried_after_interruption(kind):
        return (
            f"{FLASH_INTERRUPTED}: the agent on {hostname} went silent during attempt {attempts}; "
            "not retried, since the card may hold a partial image"
        )
    if attempts < max_attempts:
        return f"lease expired on attempt {attempts}; retrying"
    return f"the agent did not finish within its lease after {attempts} attempts"


def result_refusal(uuid: str, state: str, attempts: int, reported_attempt: int | None) -> str | None:
    """Why an agent's result cannot be applied, or None when it can. A result counts only for
    the attempt that is running now: one for an attempt whose lease already ran out is late."""
    if state == OperationState.RUNNING and reported_attempt in (None, attempts):
        return None
    if state == OperationState.RUNNING:
        return (
            f"Operation {uuid} attempt {reported_attempt} lost its lease; attempt {attempts} is running "
            "now. The late result was not applied."
        )
    which = f"attempt {reported_attempt}" if reported_attempt is not None else "the reported attempt"
    return (
        f"Operation {uuid} is {state}, no longer running: {which} lost its lease or already ended. "
        "The late result was not applied."
    )
