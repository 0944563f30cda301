"""Accelerator requests as rows: creating them, and deleting them by uuid.

Both ran through the ORM's unit of work, which cost more CPU than their SQL. Here they are Core
statements built once (`store/arq_statements.py`) on the request's connection: a create reads
its profile as a row and inserts all its ARQs in one INSERT; a delete by uuid locks and reads
the ARQs in one SELECT, writes their audit events in one INSERT and removes them in one DELETE,
after unbinding those that were bound (the one step that still needs a Session).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, Executable, Table, bindparam, delete, exists, insert, select
from sqlalchemy.orm import Session

from accord.domain.arq import ARQState
from accord.domain.context import RequestContext
from accord.domain.device_profile import parse_groups
from accord.domain.errors import Forbidden, InvalidInput, NotFound
from accord.store.arq_statements import scope_of, scoped, with_held_device
from accord.store.binding import unbind_arqs
from accord.store.models import AcceleratorRequest, Device, Operation, new_uuid, utcnow
from accord.store.operations import PENDING
from accord.store.profiles import named_profile

INITIAL, UNBOUND = ARQState.INITIAL.value, ARQState.UNBOUND.value


class NewArq(NamedTuple):
    """A just-created ARQ, as the API shows it."""

    uuid: str
    project_id: str | None
    device_profile_name: str
    device_profile_group_id: int
    created_at: datetime
    state: str = INITIAL
    hostname: str | None = None
    device_rp_uuid: str | None = None
    instance_uuid: str | None = None
    updated_at: datetime | None = None


class HeldArq(NamedTuple):
    """An ARQ about to be deleted, locked, with what its unbind and audit event need."""

    id: int
    uuid: str
    state: str
    hostname: str | None
    device_rp_uuid: str | None
    instance_uuid: str | None
    project_id: str | None
    device_uuid: str | None  # the device of the deployable it holds
    has_pending: bool  # queued operations wait on it and must be cancelled


_ARQS = cast(Table, AcceleratorRequest.__table__)
_INSERT = insert(_ARQS)
# A HeldArq's columns of the ARQ table (the query adds device_uuid and has_pending).
_HELD_COLUMNS = [_ARQS.c[name] for name in HeldArq._fields if name in _ARQS.c]
_DELETE = delete(_ARQS).where(_ARQS.c.id == bindparam("row_id"))  # executemany: no IN list to expand


def create_arqs(
    conn: Connection, ctx: RequestContext, profile_name: str, only_group: int | None = None
) -> list[NewArq]:
    """One Initial ARQ per amount in each group of the profile (or in group `only_group`), each
    with a copy of its group, so a later profile change cannot alter it."""
    profile = named_profile(conn, profile_name)
    if profile is None:
        raise NotFound(f"Device profile {profile_name!r} could not be found.")
    groups = parse_groups(profile.profile_json.get("groups"))
    raw_groups = profile.profile_json["groups"]
    if only_group is not None and not 0 <= only_group < len(groups):
        raise InvalidInput(f"Device profile {profile_name!r} has no group {only_group}.")
    now = utcnow()
    arqs = [
        NewArq(new_uuid(), ctx.project_id, profile.name, index, now)
        for index, group in enumerate(groups)
        if only_group is None or index == only_group
        for _ in range(group.arq_count())
    ]
    if arqs:
        conn.execute(
            _INSERT,
            [
                {
                    "uuid": arq.uuid,
                    "project_id": arq.project_id,
                    "state": arq.state,
                    "device_profile_id": profile.id,
                    "device_profile_group_id": arq.device_profile_group_id,
                    "device_profile_group": raw_groups[arq.device_profile_group_id],
                    "created_at": now,
                }
                for arq in arqs
            ],
        )
    return arqs


@cache
def _lock_for_delete_query(scope: str, one: bool) -> Executable:
    # One uuid (the usual delete) is compared with `=`: an IN list is expanded at each execution.
    named = _ARQS.c.uuid == bindparam("uuid") if one else _ARQS.c.uuid.in_(bindparam("uuids", expanding=True))
    pending = exists().where(Operation.arq_id == _ARQS.c.id, Operation.state == PENDING).label("has_pending")
    query = (
        with_held_device(select(*_HELD_COLUMNS, Device.uuid.label("device_uuid"), pending))
        .where(named)
        .order_by(_ARQS.c.id)
        .with_for_update(of=_ARQS)
    )
    return scoped(query, scope)


def lock_for_delete(conn: Connection, ctx: RequestContext, arq_uuids: Sequence[str]) -> list[HeldArq]:
    """The ARQs named, in the order named, locked (PostgreSQL) in id order so concurrent
    patches and deletes serialise; an unknown one (or one the caller may not see) is a 404."""
    params: dict[str, Any] = {}
    wanted = [u.lower() for u in arq_uuids]
    one = len(set(wanted)) == 1
    query = _lock_for_delete_query(scope_of(ctx, params), one)
    if one:
        params["uuid"] = wanted[0]
    else:
        params["uuids"] = wanted
    rows = {row.uuid: row for row in conn.execute(query, params)}
    found = []
    for arq_uuid, key in zip(arq_uuids, wanted, strict=True):
        if key not in rows:
            raise NotFound(f"Accelerator request {arq_uuid} could not be found.")
        *columns, waiting = rows[key]
        found.append(HeldArq._make((*columns, bool(waiting))))
    return found


def require_service_for_bound(ctx: RequestContext, arqs: Sequence[HeldArq]) -> None:
    """Deleting a bound ARQ unbinds it from a VM: only a service may (CVE-2026-40214)."""
    if ctx.is_service or ctx.is_admin:
        return
    for arq in arqs:
        if arq.state != INITIAL:
            raise Forbidden(
                f"Deleting accelerator request {arq.uuid} in state {arq.state} requires a service token."
            )


def unbind_before_delete(session: Session, arqs: Sequence[HeldArq]) -> None:
    """ARQs in any state but Initial or Unbound are unbound first: their handles are released
    and the operations waiting on them cancelled. The unbind works on ORM objects: each ARQ is a
    stand-in built from its row and kept out of the session (its row is deleted next, so what
    the unbind changes on it is never written). The session is the write transaction's own, so
    the hosts whose handles come back are noted for the scheduler index (`host_versions`)."""
    bound = {arq.id: arq for arq in arqs if arq.state not in (INITIAL, UNBOUND)}
    if not bound:
        return
    stand_ins = [
        AcceleratorRequest(id=a.id, state=a.state, hostname=a.hostname, device_rp_uuid=a.device_rp_uuid)
        for a in bound.values()
    ]
    unbind_arqs(session, stand_ins, waited_on={a.id for a in bound.values() if a.has_pending})
    session.flush()


def delete_rows(conn: Connection, arqs: Sequence[HeldArq]) -> None:
    if arqs:
        conn.execute(_DELETE, [{"row_id": i} for i in dict.fromkeys(a.id for a in arqs)])
