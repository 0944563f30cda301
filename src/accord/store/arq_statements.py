"""Pieces shared by the ARQ statements built once (`store/arqs.py`, `store/arq_rows.py`).

Building a SQLAlchemy statement costs more CPU than running it, so the hot ARQ statements are
built once per variant, with bound parameters, and cached (`functools.cache` on the builder).
What differs between callers becomes a variant: the caller's scope (`scope_of` names it and binds
its parameter, `scoped` adds its filter), or which way the ARQs are named.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Executable, Select, and_, bindparam, or_

from accord.domain.context import RequestContext
from accord.store.models import AcceleratorRequest, Deployable, Device


def visible(ctx: RequestContext) -> ColumnElement[bool] | None:
    """The project filter for a caller: admins and services (by their own role, e.g. Nova's
    service user) see all; everyone else, a service token included, sees its own project."""
    if ctx.is_admin or "service" in ctx.roles:
        return None
    return AcceleratorRequest.project_id == ctx.project_id


def scope_of(ctx: RequestContext, params: dict[str, Any]) -> str:
    """`visible(ctx)` as a variant of a prebuilt statement: "all", "project" (bound as `scope`),
    or "none" for a project-less caller (its filter is `project_id IS NULL`, as `visible` says)."""
    if visible(ctx) is None:
        return "all"
    if ctx.project_id is None:
        return "none"
    params["scope"] = ctx.project_id
    return "project"


def scoped(query: Select[*tuple[Any, ...]], scope: str) -> Executable:
    if scope == "project":
        return query.where(AcceleratorRequest.project_id == bindparam("scope"))
    if scope == "none":
        return query.where(AcceleratorRequest.project_id.is_(None))
    return query


def with_held_device(query: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
    """Outer-joins the deployable an ARQ holds (by id once bound, by its rp while a bind is
    under way) and that deployable's device, so `Device.uuid` can be selected (None if none)."""
    return query.outerjoin(
        Deployable,
        or_(
            Deployable.id == AcceleratorRequest.deployable_id,
            and_(
                AcceleratorRequest.deployable_id.is_(None),
                Deployable.rp_uuid == AcceleratorRequest.device_rp_uuid,
            ),
        ),
    ).outerjoin(Device, Device.id == Deployable.device_id)
