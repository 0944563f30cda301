"""/v2/firmware_rollouts: firmware campaigns over many devices, in waves with a canary (admin only)."""

from __future__ import annotations

from typing import Any

from fastapi import Body, Depends, Request
from fastapi.responses import JSONResponse

from accord.api import render
from accord.api.policy import authorize
from accord.api.schemas import FirmwareRolloutCreate, parse
from accord.api.state import app_state, base_url, context
from accord.domain.context import RequestContext
from accord.services import rollouts


def create(request: Request, body: Any = Body(None), ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "firmware_rollout:create")
    wanted = parse(FirmwareRolloutCreate, body)
    row = rollouts.start(app_state(request), ctx, wanted.model_dump(exclude_none=True))
    return JSONResponse(render.firmware_rollout(base_url(request), row), status_code=201)


def list_(request: Request, state: str | None = None, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "firmware_rollout:get")
    base = base_url(request)
    rows = rollouts.list_all(app_state(request), state)
    return {"firmware_rollouts": [render.firmware_rollout(base, r) for r in rows]}


def show(request: Request, rollout_uuid: str, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "firmware_rollout:get")
    return render.firmware_rollout(base_url(request), rollouts.show(app_state(request), rollout_uuid))


def _act(request: Request, rollout_uuid: str, ctx: RequestContext, action: str) -> Any:
    authorize(ctx, "firmware_rollout:update")
    row = rollouts.act(app_state(request), ctx, rollout_uuid, action)
    return render.firmware_rollout(base_url(request), row)


def pause(request: Request, rollout_uuid: str, ctx: RequestContext = Depends(context)) -> Any:
    return _act(request, rollout_uuid, ctx, "pause")


def resume(request: Request, rollout_uuid: str, ctx: RequestContext = Depends(context)) -> Any:
    return _act(request, rollout_uuid, ctx, "resume")


def abort(request: Request, rollout_uuid: str, ctx: RequestContext = Depends(context)) -> Any:
    return _act(request, rollout_uuid, ctx, "abort")
