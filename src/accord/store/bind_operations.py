"""Binds that need the agent first: mediated devices (and, later, programming).

A preparer queues the operation and keeps the ARQ in BindStarted; the operation's completion
makes it Bound, or BindFailed with the agent's reason, and returns the ARQs it resolved so the
caller can tell Nova after the commit.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.domain.arq import ARQState
from accord.store.binding import fail_bind
from accord.store.mdev import create_params
from accord.store.models import AcceleratorRequest, AttachHandle, Deployable, Operation
from accord.store.operations import FAILED, PENDING, RUNNING, SUCCEEDED, queue_operation


def mdev_preparer(
    session: Session, arq: AcceleratorRequest, deployable: Deployable, handle: AttachHandle
) -> bool:
    """An MDEV handle must be created on the host before the VM can use it."""
    if handle.attach_type != "MDEV":
        return False
    queue_operation(
        session,
        "create_mdev",
        deployable.device.hostname,
        create_params(handle),
        device_id=deployable.device_id,
        deployable_id=deployable.id,
        arq_id=arq.id,
    )
    arq.substate = "creating_mdev"
    return True


def complete_bind_operation(session: Session, operation: Operation) -> list[AcceleratorRequest]:
    """An operation an ARQ waits on has ended: Bound once nothing else is outstanding. Returns
    the ARQ when this resolved it."""
    if operation.arq_id is None:
        return []
    arq = session.get(AcceleratorRequest, operation.arq_id)
    if arq is None or arq.state != ARQState.BIND_STARTED.value:
        return []  # unbound or deleted meanwhile: nothing to resolve
    if operation.state == FAILED:
        fail_bind(session, arq, f"{operation.kind} failed on host {operation.hostname}: {operation.error}")
        arq.substate = None
        return [arq]
    if operation.state != SUCCEEDED:
        return []
    outstanding = session.scalar(
        select(Operation.id)
        .where(
            Operation.arq_id == arq.id, Operation.state.in_((PENDING, RUNNING)), Operation.id != operation.id
        )
        .limit(1)
    )
    if outstanding is None:
        arq.state = ARQState.BOUND.value
        arq.substate = None
        return [arq]
    return []
