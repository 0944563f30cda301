"""Operations: work the server queues for a host's agent (create an mdev, program a region,
flash firmware, set VFs), claimed with a lease and finished with a result.

An agent holds at most one operation per device at a time and renews the leases of what it is
running with its heartbeat, so a lease runs out only when the agent went silent. An operation
whose agent went silent is never left hanging: it goes back to pending (another attempt) or fails,
as `accord.domain.operation` rules by kind (a firmware flash is never retried on its own), and
whatever waited on it (an ARQ, a device) learns through the kind's completion.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.domain.errors import BadState, InvalidInput, NotFound
from accord.domain.operation import (
    OperationState,
    after_lost_lease,
    check_transition,
    lost_lease_error,
    result_refusal,
)
from accord.store import audit
from accord.store.models import AcceleratorRequest, Operation, utcnow

PENDING, RUNNING, SUCCEEDED, FAILED = (s.value for s in OperationState)
DEFAULT_LEASE = timedelta(seconds=120)

# Called when an operation ends: (session, operation) -> the ARQs it resolved (Bound or
# BindFailed now), so the caller tells Nova after the commit. Registered per operation kind, so the
# bind path (mdev, programming) and the firmware path can react to their own operations.
Completion = Callable[[Session, Operation], list[AcceleratorRequest]]


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
    now: datetime | None = None,
) -> list[Operation]:
    """Oldest first, at most one running operation per device (or per region for work with no
    device): two tools never work on one card at once, and a device's work runs in order."""
    busy_devices, busy_regions = _busy(session, hostname)
    query = (
        select(Operation)
        .where(Operation.hostname == hostname, Operation.state == PENDING)
        .order_by(Operation.id)
        .limit(limit * 4)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    claimed: list[Operation] = []
    now = now or utcnow()
    for operation in session.scalars(query):
        if len(claimed) >= limit:
            break
        if operation.device_id is not None:
            if operation.device_id in busy_devices:
                continue
            busy_devices.add(operation.device_id)
        elif operation.deployable_id is not None:
            if operation.deployable_id in busy_regions:
                continue
            busy_regions.add(operation.deployable_id)
        check_transition(operation.state, OperationState.RUNNING)
        operation.state = RUNNING
        operation.attempts += 1
        operation.started_at = operation.started_at or now
        operation.lease_expires_at = now + lease
        claimed.append(operation)
    return claimed


def _busy(session: Session, hostname: str) -> tuple[set[int], set[int]]:
    rows = session.execute(
        select(Operation.device_id, Operation.deployable_id).where(
            Operation.hostname == hostname, Operation.state == RUNNING
        )
    )
    devices: set[int] = set()
    regions: set[int] = set()
    for device_id, deployable_id in rows:
        if device_id is not None:
            devices.add(device_id)
        if deployable_id is not None:
            regions.add(deployable_id)
    return devices, regions


def renew_leases(
    session: Session,
    hostname: str,
    operation_uuids: Sequence[str],
    lease: timedelta = DEFAULT_LEASE,
    now: datetime | None = None,
) -> tuple[list[str], list[str]]:
    """The agent says it is still working on these: their leases start again. Returns (renewed,
    not held): a uuid not held is no longer running for this host (its lease already ran out,
    or it never was), so the agent's result for it will be refused."""
    wanted = sorted({u.lower() for u in operation_uuids})
    if not wanted:
        return [], []
    now = now or utcnow()
    # Row locks: a reconciler expiring one of these at this moment either goes first (the row is
    # then no longer running and is not renewed) or skips the locked row and sees the new lease.
    held = session.scalars(
        select(Operation)
        .where(Operation.uuid.in_(wanted), Operation.hostname == hostname, Operation.state == RUNNING)
        .with_for_update()
    )
    renewed: set[str] = set()
    for operation in held:
        operation.lease_expires_at = now + lease
        renewed.add(operation.uuid)
    return [u for u in wanted if u in renewed], [u for u in wanted if u not in renewed]


def get_operation_by_id(session: Session, operation_id: int) -> Operation:
    operation = session.get(Operation, operation_id)
    if operation is None:  # operations are never deleted; a missing one is a bug, not a 404
        raise LookupError(f"operation {operation_id} vanished")
    return operation


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
    attempt: int | None = None,
) -> list[AcceleratorRequest]:
    """Apply the agent's result; returns the ARQs it resolved. A result for an attempt whose
    lease already ran out is refused (BadState, a 409) and changes nothing."""
    refusal = result_refusal(operation.uuid, operation.state, operation.attempts, attempt)
    if refusal is not None:
        raise BadState(refusal)
    if not succeeded and not error:
        raise InvalidInput("A failed operation must say why ('error').")
    operation.state = SUCCEEDED if succeeded else FAILED
    operation.result = result or {}
    operation.error = error
    operation.finished_at = utcnow()
    operation.lease_expires_at = None
    completion = completions.get(operation.kind)
    resolved = completion(session, operation) if completion is not None else []
    # After the completion: it may turn a "succeeded" with a wrong read-back into a failure.
    audit.record_operation(session, operation, f"agent:{operation.hostname}")
    return resolved


@dataclass
class ExpiredLeases:
    operations: list[Operation] = field(default_factory=list)  # retried or failed
    resolved: list[AcceleratorRequest] = field(default_factory=list)  # ARQs whose bind failed with them


def expire_leases(
    session: Session, completions: dict[str, Completion], now: datetime | None = None
) -> ExpiredLeases:
    """Running operations whose agent went silent for a whole lease: retried, or failed (after
    max_attempts, or at once for kinds never retried after an interruption)."""
    now = now or utcnow()
    outcome = ExpiredLeases()
    expired = list(
        session.scalars(
            select(Operation)
            .where(Operation.state == RUNNING, Operation.lease_expires_at < now)
            .with_for_update(skip_locked=True)
        )
    )
    outcome.operations = expired
    for operation in expired:
        target = after_lost_lease(operation.kind, operation.attempts, operation.max_attempts)
        check_transition(operation.state, target)
        operation.lease_expires_at = None
        operation.state = target.value
        operation.error = lost_lease_error(
            operation.kind, operation.hostname, operation.attempts, operation.max_attempts
        )
        if target is OperationState.PENDING:
            continue
        operation.result = {"interrupted": True}
        operation.finished_at = now
        completion = completions.get(operation.kind)
        if completion is not None:
            outcome.resolved.extend(completion(session, operation))
        audit.record_operation(session, operation, "accord-reconciler")
    return outcome


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
