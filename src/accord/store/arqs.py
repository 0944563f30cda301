"""Accelerator-request queries on ORM objects: list, get, lock for a bind or a release, delete.

Creating ARQs and deleting them by uuid work on rows instead (`store/arq_rows.py`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Executable,
    Table,
    bindparam,
    delete,
    exists,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased, lazyload

from accord.domain.arq import RESOLVED_STATES, ARQState
from accord.domain.context import RequestContext
from accord.domain.errors import Locked, NotFound
from accord.store.arq_statements import scope_of as _scope_of
from accord.store.arq_statements import scoped as _scoped
from accord.store.arq_statements import visible, with_held_device
from accord.store.models import (
    AcceleratorRequest,
    Device,
    Operation,
    Quota,
    utcnow,
)
from accord.store.operations import PENDING


def list_arqs(
    session: Session,
    ctx: RequestContext,
    instance: str | None = None,
    resolved_only: bool = False,
) -> list[AcceleratorRequest]:
    query = select(AcceleratorRequest).order_by(AcceleratorRequest.id)
    scope = visible(ctx)
    if scope is not None:
        query = query.where(scope)
    if instance is not None:
        query = query.where(AcceleratorRequest.instance_uuid == instance)
    arqs = list(session.scalars(query).unique())
    if resolved_only and instance is not None and any(ARQState(a.state) not in RESOLVED_STATES for a in arqs):
        raise Locked(f"Accelerator requests of instance {instance} are not all resolved yet.")
    return arqs


def get_arq(
    session: Session, ctx: RequestContext, arq_uuid: str, for_update: bool = False
) -> AcceleratorRequest:
    """One ARQ the caller may see; `for_update` locks the row (PostgreSQL) so concurrent
    patches of the same ARQ serialise."""
    query = select(AcceleratorRequest).where(AcceleratorRequest.uuid == arq_uuid.lower())
    if for_update:
        query = query.with_for_update(of=AcceleratorRequest)
    scope = visible(ctx)
    if scope is not None:
        query = query.where(scope)
    arq = session.scalars(query).unique().one_or_none()
    if arq is None:
        raise NotFound(f"Accelerator request {arq_uuid} could not be found.")
    return arq


# The bind and release paths run these statements on every request: they are built once per
# variant with bound parameters (building a statement costs more CPU than running it).
_OTHER_ARQ = aliased(AcceleratorRequest, name="other_arq")
_NO_RELATIONS = (lazyload(AcceleratorRequest.profile), lazyload(AcceleratorRequest.attach_handle))


@cache
def _lock_for_bind_query(one_instance: bool, scope: str) -> Executable:
    uuids: BindParameter[list[str]] = bindparam("uuids", expanding=True)
    columns: list[ColumnElement[Any]] = []
    if one_instance:
        columns.append(
            select(_OTHER_ARQ.uuid)
            .where(_OTHER_ARQ.instance_uuid == bindparam("instance"), _OTHER_ARQ.uuid.not_in(uuids))
            .limit(1)
            .scalar_subquery()
        )
    columns.append(
        exists()
        .where(
            or_(
                Quota.project_id.in_(bindparam("projects", expanding=True)),
                Quota.project_id == AcceleratorRequest.project_id,
            )
        )
        .label("quotas_apply")
    )
    query = (
        select(AcceleratorRequest, *columns)
        .options(*_NO_RELATIONS)
        .where(AcceleratorRequest.uuid.in_(uuids))
        .order_by(AcceleratorRequest.id)
        .with_for_update(of=AcceleratorRequest)
    )
    return _scoped(query, scope)


@dataclass
class LockedForBind:
    arqs: list[AcceleratorRequest]  # in the order asked
    instance_taken: str | None  # another ARQ already on the instance (when one instance was named)
    quotas_apply: bool  # some project the bind could charge has a quota row


def lock_for_bind(
    session: Session,
    ctx: RequestContext,
    arq_uuids: Sequence[str],
    instance_uuid: str | None,
    projects: Collection[str],
) -> LockedForBind:
    """The ARQs a bind patches, locked (PostgreSQL) in id order so concurrent patches serialise,
    read in one statement with what the bind must know before claiming: whether another ARQ
    is already on the instance, and whether a quota may apply (the charged project is one of
    `projects` or the ARQ's own). Neither the profile nor a handle is loaded: a bindable ARQ
    holds none, and its group was copied onto it."""
    wanted = [u.lower() for u in arq_uuids]
    params: dict[str, Any] = {"uuids": wanted, "projects": sorted(projects)}
    if instance_uuid is not None:
        params["instance"] = instance_uuid
    scope = _scope_of(ctx, params)
    rows = session.execute(_lock_for_bind_query(instance_uuid is not None, scope), params).all()
    by_uuid = {row[0].uuid: row for row in rows}
    for arq_uuid, key in zip(arq_uuids, wanted, strict=True):
        if key not in by_uuid:
            raise NotFound(f"Accelerator request {arq_uuid} could not be found.")
    return LockedForBind(
        arqs=[by_uuid[key][0] for key in wanted],
        instance_taken=next((row[1] for row in rows if row[1] is not None), None)
        if instance_uuid is not None
        else None,
        quotas_apply=any(row[-1] for row in rows),
    )


@dataclass
class ArqToRelease:
    arq: AcceleratorRequest
    device_uuid: str | None  # the device of the deployable it holds, for the audit event
    has_pending: bool  # queued operations wait on it and must be cancelled


@cache
def _lock_for_release_query(by_instance: bool, scope: str) -> Executable:
    pending = exists().where(Operation.arq_id == AcceleratorRequest.id, Operation.state == PENDING)
    query = (
        with_held_device(select(AcceleratorRequest, Device.uuid, pending.label("has_pending")))
        .options(*_NO_RELATIONS)
        .order_by(AcceleratorRequest.id)
        .with_for_update(of=AcceleratorRequest)
    )
    if by_instance:
        query = query.where(AcceleratorRequest.instance_uuid == bindparam("instance"))
    else:
        query = query.where(AcceleratorRequest.uuid.in_(bindparam("uuids", expanding=True)))
    return _scoped(query, scope)


def lock_for_release(
    session: Session, ctx: RequestContext, arq_uuids: Sequence[str] | None, instance: str | None
) -> list[ArqToRelease]:
    """The ARQs named (locked, 404 for an unknown one) or every ARQ of an instance, in one
    statement with their device's uuid and whether operations still wait on them."""
    params: dict[str, Any] = {}
    query = _lock_for_release_query(arq_uuids is None, _scope_of(ctx, params))
    if arq_uuids is None:
        params["instance"] = instance
        return [
            ArqToRelease(arq, device, bool(waiting))
            for arq, device, waiting in session.execute(query, params)
        ]
    wanted = [u.lower() for u in arq_uuids]
    params["uuids"] = wanted
    rows = {arq.uuid: (arq, device, waiting) for arq, device, waiting in session.execute(query, params)}
    found = []
    for arq_uuid, key in zip(arq_uuids, wanted, strict=True):
        if key not in rows:
            raise NotFound(f"Accelerator request {arq_uuid} could not be found.")
        arq, device, waiting = rows[key]
        found.append(ArqToRelease(arq, device, bool(waiting)))
    return found


_BIND_COLUMNS = (
    "state",
    "substate",
    "hostname",
    "device_rp_uuid",
    "instance_uuid",
    "project_id",
    "bind_started_at",
    "failure_reason",
    "attach_handle_id",
    "deployable_id",
)
_ARQ_TABLE = cast(Table, AcceleratorRequest.__table__)
# A Core UPDATE: the ORM's bulk and unit-of-work machinery cost more CPU than the statement.
_WRITE_BIND = (
    update(_ARQ_TABLE)
    .where(_ARQ_TABLE.c.id == bindparam("b_id"))
    .values({name: bindparam(f"b_{name}") for name in (*_BIND_COLUMNS, "updated_at")})
)


def write_bind(session: Session, arqs: Sequence[AcceleratorRequest]) -> None:
    """Write what a bind changed on its ARQs in one (executemany) UPDATE, without the unit of
    work, and take the ARQs out of the session so the commit does not write them again. They
    stay readable for the caller (the outcome, Nova's events)."""
    if not arqs:
        return
    now = utcnow()
    session.connection().execute(
        _WRITE_BIND,
        [
            {"b_id": a.id, "b_updated_at": now, **{f"b_{name}": getattr(a, name) for name in _BIND_COLUMNS}}
            for a in arqs
        ],
    )
    for arq in arqs:
        arq.updated_at = now
        session.expunge(arq)


def delete_rows(session: Session, arqs: Sequence[AcceleratorRequest]) -> None:
    ids = [a.id for a in arqs]
    if ids:
        session.execute(delete(AcceleratorRequest).where(AcceleratorRequest.id.in_(ids)))
