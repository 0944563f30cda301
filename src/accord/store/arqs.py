"""Accelerator-request queries: create per group and amount, list, get, delete."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from accord.domain.arq import RESOLVED_STATES, ARQState
from accord.domain.context import RequestContext
from accord.domain.device_profile import parse_groups
from accord.domain.errors import Forbidden, InvalidInput, Locked, NotFound
from accord.store.models import AcceleratorRequest, DeviceProfile


def visible(ctx: RequestContext) -> ColumnElement[bool] | None:
    """The project filter for a caller: admins and services (by their own role, e.g. Nova's
    service user) see all; everyone else, a service token included, sees its own project."""
    if ctx.is_admin or "service" in ctx.roles:
        return None
    return AcceleratorRequest.project_id == ctx.project_id


def create_arqs(
    session: Session, ctx: RequestContext, profile_name: str, only_group: int | None = None
) -> list[AcceleratorRequest]:
    profile = session.scalar(select(DeviceProfile).where(DeviceProfile.name == profile_name))
    if profile is None:
        raise NotFound(f"Device profile {profile_name!r} could not be found.")
    groups = parse_groups(profile.profile_json.get("groups"))
    raw_groups = profile.profile_json["groups"]
    if only_group is not None and not 0 <= only_group < len(groups):
        raise InvalidInput(f"Device profile {profile_name!r} has no group {only_group}.")
    arqs = [
        AcceleratorRequest(
            project_id=ctx.project_id,
            state=ARQState.INITIAL.value,
            device_profile_id=profile.id,
            device_profile_group_id=index,
            device_profile_group=raw_groups[index],
            profile=profile,
        )
        for index, group in enumerate(groups)
        if only_group is None or index == only_group
        for _ in range(group.arq_count())
    ]
    session.add_all(arqs)
    session.flush()
    return arqs


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


def get_arqs_for_update(
    session: Session, ctx: RequestContext, arq_uuids: Sequence[str]
) -> list[AcceleratorRequest]:
    return [get_arq(session, ctx, arq_uuid, for_update=True) for arq_uuid in arq_uuids]


def require_service_for_bound(ctx: RequestContext, arqs: Sequence[AcceleratorRequest]) -> None:
    """Deleting a bound ARQ unbinds it from a VM: only a service may (CVE-2026-40214)."""
    if ctx.is_service or ctx.is_admin:
        return
    for arq in arqs:
        if arq.state != ARQState.INITIAL.value:
            raise Forbidden(
                f"Deleting accelerator request {arq.uuid} in state {arq.state} requires a service token."
            )


def delete_rows(session: Session, arqs: Sequence[AcceleratorRequest]) -> None:
    ids = [a.id for a in arqs]
    if ids:
        session.execute(delete(AcceleratorRequest).where(AcceleratorRequest.id.in_(ids)))
