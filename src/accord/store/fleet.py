"""Read queries for the operator console: a device's regions and handles with the ARQs holding
them, usage per device, a device's operations. Each is one or two statements for the whole page,
never one per row."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from accord.store.models import AcceleratorRequest, AttachHandle, Deployable, Device, Operation


def deployables_of(session: Session, device_ids: Iterable[int]) -> dict[int, list[Deployable]]:
    ids = set(device_ids)
    found: dict[int, list[Deployable]] = {i: [] for i in ids}
    if ids:
        query = select(Deployable).where(Deployable.device_id.in_(ids)).order_by(Deployable.id)
        for row in session.scalars(query):
            found[row.device_id].append(row)
    return found


def handles_of(
    session: Session, deployable_ids: Iterable[int]
) -> dict[int, list[tuple[AttachHandle, AcceleratorRequest | None]]]:
    """Each deployable's attach handles, with the ARQ holding each (None when free)."""
    ids = set(deployable_ids)
    found: dict[int, list[tuple[AttachHandle, AcceleratorRequest | None]]] = {i: [] for i in ids}
    if not ids:
        return found
    handles = list(
        session.scalars(
            select(AttachHandle).where(AttachHandle.deployable_id.in_(ids)).order_by(AttachHandle.id)
        )
    )
    holders = {h.arq_id for h in handles if h.arq_id is not None}
    arqs: dict[int, AcceleratorRequest] = {}
    if holders:
        query = select(AcceleratorRequest).where(AcceleratorRequest.id.in_(holders))
        arqs = {a.id: a for a in session.scalars(query)}
    for handle in handles:
        found[handle.deployable_id].append((handle, arqs.get(handle.arq_id or 0)))
    return found


def usage_by_device(session: Session) -> dict[int, tuple[int, int]]:
    """(handles in use, handles) per device id."""
    in_use = func.sum(case((AttachHandle.in_use, 1), else_=0))
    query = (
        select(Deployable.device_id, in_use, func.count(AttachHandle.id))
        .join(AttachHandle, AttachHandle.deployable_id == Deployable.id)
        .group_by(Deployable.device_id)
    )
    return {device_id: (int(used or 0), int(total)) for device_id, used, total in session.execute(query)}


def loaded_functions(session: Session) -> dict[int, list[str]]:
    """The functions the regions of each device hold (read back by the agents)."""
    query = select(Deployable.device_id, Deployable.function_id).where(Deployable.function_id.is_not(None))
    found: dict[int, list[str]] = {}
    for device_id, function_id in session.execute(query):
        found.setdefault(device_id, []).append(str(function_id))
    return found


def operations_of_device(session: Session, device: Device, limit: int = 20) -> list[Operation]:
    query = select(Operation).where(Operation.device_id == device.id).order_by(Operation.id.desc())
    return list(session.scalars(query.limit(limit)))


def operations_in_flight(session: Session) -> list[Operation]:
    query = select(Operation).where(Operation.state.in_(("pending", "running"))).order_by(Operation.id)
    return list(session.scalars(query))


def recent_operations(session: Session, limit: int = 20) -> list[Operation]:
    query = select(Operation).where(Operation.state.in_(("succeeded", "failed")))
    return list(session.scalars(query.order_by(Operation.id.desc()).limit(limit)))
