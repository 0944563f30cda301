"""Operations: work the server queues for a host's agent (create an mdev, program a region,
flash firmware, set VFs), claimed with a lease and finished with a result.

An operation whose agent dies is never left hanging: when its lease expires it goes back to
pending (another attempt) or, after max_attempts, fails, and the ARQ waiting on it fails too.
Only one operation per deployable runs at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.domain.errors import BadState, InvalidInput, NotFound
from accord.store import audit
from accord.store.models import Operation, utcnow

PENDING, RUNNING, SUCCEEDED, FAILED = "pending", "running", "succeeded", "failed"
DEFAULT_LEASE = timedelta(seconds=120)

# Called when an operation ends: (session, operation). Registered per operation kind, so the
# bind path (mdev, programming) and the firmware path can react to their own operations.
Completion = Callable[[Session, Operation], None]


def queue_operation(
    session: Session,
    kind: str,
    hostname: str,
    params: dict[str, Any],
    device_id: int | None = None,
    deployable_id: int | None = None,
    arq_id: int | None = None,
    image_id: int | None = None,
    requested_by: str | None = None,
) -> Operation:
    operation = Operation(
        kind=kind,
        hostname=hostname,
        params=params,
        device_id=device_id,
        deployable_id=deployable_id,
        arq_id=arq_id,
        image_id=image_id,
        requested_by=requested_by,
        state=PENDING,
    )
    session.add(operation)
    session.flush()
    return operation


def claim_operations(
    session: Session,
    hostname: str,
    limit: int = 4,
    lease: timedelta = DEFAULT_LEASE,
    skip_locked: bool = False,
) -> list[Operation]:
    busy = set(
        session.scalars(
            select(Operation.deployable_id).where(
                Operation.state == RUNNING, Operation.deployable_id.is_not(None)
            )
        )
    )
    query = (
        select(Operation)
        .where(Operation.hostname == hostname, Operation.state == PENDING)
        .order_by(Operation.id)
        .limit(limit * 4)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    claimed: list[Operation] = []
    now = utcnow()
    for operation in session.scalars(query):
        if len(claimed) >= limit:
            break
        if operation.deployable_id is not None and operation.deployable_id in busy:
            continue  # one operation per region at a time
        operation.state = RUNNING
        operation.attempts += 1
        operation.started_at = operation.started_at or now
        operation.lease_expires_at = now + lease
        if operation.deployable_id is not None:
            busy.add(operation.deployable_id)
        claimed.append(operation)
    return claimed


def get_operation(session: Session, operation_uuid: str) -> Operation:
    operation = session.scalar(select(Operation).where(Operation.uuid == operation_uuid.lower()))
    if operation is None:
        raise NotFound(f"Operation {operation_uuid} could not be found.")
    return operation


def finish_operation(
    session: Session,
    operation: Operation,
    succeeded: bool,
    result: dict[str, Any] | None,
    error: str | None,
    completions: dict[str, Completion],
) -> None:
    if operation.state != RUNNING:
        raise BadState(f"Operation {operation.uuid} is {operation.state}, not running.")
    if not succeeded and not error:
        raise InvalidInput("A failed operation must say why ('error').")
    operation.state = SUCCEEDED if succeeded else FAILED
    operation.result = result or {}
    operation.error = error
    operation.finished_at = utcnow()
    operation.lease_expires_at = None
    completion = completions.get(operation.kind)
    if completion is not None:
        completion(session, operation)
    # After the completion: it may turn a "succeeded" with a wrong read-back into a failure.
    audit.record_operation(session, operation, f"agent:{operation.hostname}")


def expire_leases(session: Session, completions: dict[str, Completion]) -> Sequence[Operation]:
    """Running operations whose lease ran out: retried, or failed after max_attempts."""
    now = utcnow()
    expired = list(
        session.scalars(
            select(Operation)
            .where(Operation.state == RUNNING, Operation.lease_expires_at < now)
            .with_for_update(skip_locked=True)
        )
    )
    for operation in expired:
        operation.lease_expires_at = None
        if operation.attempts < operation.max_attempts:
            operation.state = PENDING
            operation.error = f"lease expired on attempt {operation.attempts}; retrying"
            continue
        operation.state = FAILED
        operation.error = f"the agent did not finish within its lease after {operation.attempts} attempts"
        operation.finished_at = now
        completion = completions.get(operation.kind)
        if completion is not None:
            completion(session, operation)
        audit.record_operation(session, operation, "accord-reconciler")
    return expired


def list_operations(
    session: Session, hostname: str | None = None, state: str | None = None, kind: str | None = None
) -> list[Operation]:
    query = select(Operation).order_by(Operation.id.desc())
    if hostname is not None:
        query = query.where(Operation.hostname == hostname)
    if state is not None:
        query = query.where(Operation.state == state)
    if kind is not None:
        query = query.where(Operation.kind == kind)
    return list(session.scalars(query))


def cancel_pending_for_arq(session: Session, arq_id: int, reason: str) -> None:
    """The ARQ no longer waits (unbound, failed, deleted): its queued work must not run."""
    for operation in session.scalars(
        select(Operation).where(Operation.arq_id == arq_id, Operation.state == PENDING)
    ):
        operation.state = FAILED
        operation.error = f"cancelled: {reason}"
        operation.finished_at = utcnow()
