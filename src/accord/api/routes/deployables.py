"""/v2/deployables (contract §1.6): list and get."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from accord.api import render
from accord.api.policy import authorize
from accord.api.state import app_state, base_url, context
from accord.domain.context import RequestContext
from accord.store import hardware
from accord.store.models import Deployable


def render_deployables(session: Session, base: str, rows: list[Deployable]) -> list[dict[str, Any]]:
    attributes = hardware.attributes_by_deployable(session, {r.id for r in rows})
    devices = hardware.device_uuids(session, {r.device_id for r in rows})
    parents = hardware.deployable_uuids(session, {r.parent_id for r in rows if r.parent_id})
    return [
        render.deployable(base, r, devices[r.device_id], attributes[r.id], parents.get(r.parent_id or 0))
        for r in rows
    ]


def list_(request: Request, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "deployable:get_all")
    with app_state(request).db.read() as session:
        rows = hardware.list_deployables(session)
        return {"deployables": render_deployables(session, base_url(request), rows)}


def show(request: Request, deployable_uuid: str, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "deployable:get_one")
    with app_state(request).db.read() as session:
        row = hardware.get_deployable(session, deployable_uuid)
        return render_deployables(session, base_url(request), [row])[0]
