"""/v2/quotas: per-project limits by resource class (admins set them; projects read their own)."""

from __future__ import annotations

from typing import Any

from fastapi import Body, Depends, Request, Response

from accord.api.policy import authorize
from accord.api.schemas import QuotaLimit, parse
from accord.api.state import app_state, context
from accord.domain.context import RequestContext
from accord.domain.errors import Forbidden
from accord.store import quotas
from accord.store.models import Quota


def _render(row: Quota, used: int) -> dict[str, Any]:
    return {
        "project_id": row.project_id,
        "resource_class": row.resource_class,
        "limit": row.limit,
        "in_use": used,
    }


def list_(request: Request, project_id: str | None = None, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "quota:get")
    if not ctx.is_admin:
        if project_id not in (None, ctx.project_id):
            raise Forbidden("Only admins may read other projects' quotas.")
        project_id = ctx.project_id
    with app_state(request).db.read() as session:
        rows = quotas.list_quotas(session, project_id)
        usage = {p: quotas.usage(session, p) for p in {r.project_id for r in rows}}
        return {"quotas": [_render(r, usage[r.project_id][r.resource_class]) for r in rows]}


def put(
    request: Request,
    project_id: str,
    resource_class: str,
    body: Any = Body(None),
    ctx: RequestContext = Depends(context),
) -> Any:
    authorize(ctx, "quota:set")
    limit = parse(QuotaLimit, body).limit
    with app_state(request).db.write() as session:
        row = quotas.set_quota(session, project_id, resource_class, limit)
        return _render(row, quotas.usage(session, project_id)[resource_class])


def delete(
    request: Request, project_id: str, resource_class: str, ctx: RequestContext = Depends(context)
) -> Response:
    authorize(ctx, "quota:set")
    with app_state(request).db.write() as session:
        quotas.delete_quota(session, project_id, resource_class)
    return Response(status_code=204)
