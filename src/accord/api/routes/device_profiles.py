"""/v2/device_profiles (contract §1.4)."""

from __future__ import annotations

from typing import Any

from fastapi import Body, Depends, Request, Response

from accord.api import render
from accord.api.microversions import PROFILE_BY_NAME, Version
from accord.api.policy import authorize
from accord.api.schemas import DeviceProfileCreate, parse
from accord.api.state import app_state, base_url, context, microversion
from accord.domain.context import RequestContext
from accord.domain.device_profile import looks_like_uuid
from accord.domain.errors import InvalidInput, NotAcceptable
from accord.store import profiles


def _names(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [n.strip() for n in value.split(",") if n.strip()]


def create(request: Request, body: Any = Body(None), ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "device_profile:create")
    spec = parse(DeviceProfileCreate, body).spec
    with app_state(request).db.write() as session:
        row = profiles.create_profile(session, spec)
        return render.profile(base_url(request), row)


def list_(request: Request, name: str | None = None, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "device_profile:get_all")
    with app_state(request).db.rows() as connection:
        rows = profiles.list_profiles(connection, _names(name))
        base = base_url(request)
        return {"device_profiles": [render.profile(base, r) for r in rows]}


def show(
    request: Request,
    ident: str,
    ctx: RequestContext = Depends(context),
    version: Version = Depends(microversion),
) -> Any:
    authorize(ctx, "device_profile:get_one")
    by_name = version >= PROFILE_BY_NAME
    if not by_name and not looks_like_uuid(ident):
        raise NotAcceptable(
            f"Getting a device profile by name needs microversion {PROFILE_BY_NAME} or later; "
            f"{ident!r} is not a uuid."
        )
    with app_state(request).db.rows() as connection:
        row = profiles.find_profile(connection, ident, by_name=by_name)
        return {"device_profile": render.profile(base_url(request), row)}


def delete_one(request: Request, ident: str, ctx: RequestContext = Depends(context)) -> Response:
    authorize(ctx, "device_profile:delete")
    with app_state(request).db.write() as session:
        profiles.delete_profiles(session, [ident])
    return Response(status_code=204)


def delete_many(
    request: Request, value: str | None = None, ctx: RequestContext = Depends(context)
) -> Response:
    authorize(ctx, "device_profile:delete")
    names = _names(value)
    if not names:
        raise InvalidInput("Name the device profiles to delete: /v2/device_profiles/{name} or ?value=a,b.")
    with app_state(request).db.write() as session:
        profiles.delete_profiles(session, names)
    return Response(status_code=204)
