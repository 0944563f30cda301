"""/v2/deployables (contract §1.6): list and get."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from accord.api import render
from accord.api.policy import authorize
from accord.api.state import app_state, base_url, context
from accord.domain.context import RequestContext
from accord.store import hardware


def render_deployables(base: str, views: list[hardware.DeployableView]) -> list[dict[str, Any]]:
    return [render.deployable(base, *view) for view in views]


def list_(request: Request, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "deployable:get_all")
    with app_state(request).db.read() as session:
        rows = hardware.list_deployables(session)
        return {
            "deployables": render_deployables(base_url(request), hardware.deployable_views(session, rows))
        }


def show(request: Request, deployable_uuid: str, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "deployable:get_one")
    with app_state(request).db.read() as session:
        row = hardware.get_deployable(session, deployable_uuid)
        return render_deployables(base_url(request), hardware.deployable_views(session, [row]))[0]
