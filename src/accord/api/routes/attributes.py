"""/v2/attributes (contract §1.7): list with filters, get, create, delete. Writes never touch
Placement (as in Cyborg); the agent's next report restores attributes it owns (rc, traitN)."""

from __future__ import annotations

from typing import Any

from fastapi import Body, Depends, Request, Response

from accord.api import render
from accord.api.policy import authorize
from accord.api.schemas import AttributeCreate, parse
from accord.api.state import app_state, base_url, context
from accord.domain.context import RequestContext
from accord.services import hardware as hardware_services
from accord.store import hardware


def list_(
    request: Request,
    deployable_id: str | None = None,
    key: str | None = None,
    ctx: RequestContext = Depends(context),
) -> Any:
    authorize(ctx, "attribute:get_all")
    with app_state(request).db.read() as session:
        deployable = hardware.resolve_deployable_ref(session, deployable_id) if deployable_id else None
        rows = hardware.list_attributes(session, deployable, key)
        uuids = hardware.deployable_uuids(session, {r.deployable_id for r in rows})
        base = base_url(request)
        return {"attributes": [render.attribute(base, r, uuids[r.deployable_id]) for r in rows]}


def show(request: Request, attribute_uuid: str, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "attribute:get_one")
    with app_state(request).db.read() as session:
        row = hardware.get_attribute(session, attribute_uuid)
        uuids = hardware.deployable_uuids(session, {row.deployable_id})
        return render.attribute(base_url(request), row, uuids[row.deployable_id])


def create(request: Request, body: Any = Body(None), ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "attribute:create")
    wanted = parse(AttributeCreate, body)
    row, deployable = hardware_services.create_attribute(
        app_state(request), wanted.deployable_id, wanted.key, wanted.value
    )
    return render.attribute(base_url(request), row, deployable)


def delete(request: Request, attribute_uuid: str, ctx: RequestContext = Depends(context)) -> Response:
    authorize(ctx, "attribute:delete")
    hardware_services.delete_attribute(app_state(request), attribute_uuid)
    return Response(status_code=204)
