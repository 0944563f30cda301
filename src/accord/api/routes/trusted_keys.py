"""/v2/trusted_keys: the ed25519 keys whose image signatures Accord accepts (admin only)."""

from __future__ import annotations

from typing import Any

from fastapi import Body, Depends, Request, Response
from fastapi.responses import JSONResponse

from accord.api import render
from accord.api.policy import authorize
from accord.api.schemas import TrustedKeyCreate, parse
from accord.api.state import app_state, base_url, context
from accord.domain.context import RequestContext
from accord.services import catalog
from accord.store import keys


def create(request: Request, body: Any = Body(None), ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "trusted_key:create")
    wanted = parse(TrustedKeyCreate, body)
    row = catalog.add_key(app_state(request), ctx, wanted.model_dump())
    return JSONResponse(render.trusted_key(base_url(request), row), status_code=201)


def list_(request: Request, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "trusted_key:get")
    with app_state(request).db.read() as session:
        base = base_url(request)
        return {"trusted_keys": [render.trusted_key(base, r) for r in keys.list_keys(session)]}


def show(request: Request, ident: str, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "trusted_key:get")
    with app_state(request).db.read() as session:
        return render.trusted_key(base_url(request), keys.get_key(session, ident))


def delete(request: Request, ident: str, ctx: RequestContext = Depends(context)) -> Response:
    authorize(ctx, "trusted_key:delete")
    catalog.delete_key(app_state(request), ctx, ident)
    return Response(status_code=204)
