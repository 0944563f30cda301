"""/v2/accelerator_requests (contract §1.3): create, list, get, bind/unbind, delete."""

from __future__ import annotations

from typing import Any

from fastapi import Body, Depends, Request, Response

from accord.api import render
from accord.api.microversions import PROJECT_ID_ON_BIND, Version
from accord.api.policy import authorize, require_service
from accord.api.schemas import ARQCreate, ARQPatch, parse
from accord.api.state import app_state, base_url, context, microversion
from accord.domain.context import RequestContext
from accord.domain.device_profile import canonical_uuid
from accord.domain.errors import Forbidden, InvalidInput, NotAcceptable, NotFound
from accord.services import binding
from accord.store import arqs as arq_store


def create(request: Request, body: Any = Body(None), ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "accelerator_request:create")
    wanted = parse(ARQCreate, body)
    rows = binding.create_arqs(
        app_state(request), ctx, wanted.device_profile_name, wanted.device_profile_group_id
    )
    base = base_url(request)
    return {"arqs": [render.new_arq(base, r) for r in rows]}


def list_(
    request: Request,
    instance: str | None = None,
    bind_state: str | None = None,
    ctx: RequestContext = Depends(context),
) -> Any:
    authorize(ctx, "accelerator_request:get_all")
    if bind_state is not None and bind_state != "resolved":
        raise InvalidInput(f"bind_state must be 'resolved', got {bind_state!r}.")
    with app_state(request).db.read() as session:
        rows = arq_store.list_arqs(session, ctx, instance, resolved_only=bind_state is not None)
        base = base_url(request)
        return {"arqs": [render.arq(base, r) for r in rows]}


def show(request: Request, arq_uuid: str, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "accelerator_request:get_one")
    with app_state(request).db.read() as session:
        return render.arq(base_url(request), arq_store.get_arq(session, ctx, arq_uuid))


def _single_patch_body(arq_uuid: str, body: Any) -> Any:
    """`PATCH /{uuid}` takes `{uuid: [ops]}` (openstacksdk) or a bare op list."""
    if isinstance(body, list):
        return {arq_uuid: body}
    if isinstance(body, dict) and body:
        keys = {k.lower() for k in body}
        if keys != {arq_uuid.lower()}:
            raise InvalidInput(
                f"The body of PATCH /v2/accelerator_requests/{arq_uuid} may only patch that request."
            )
    return body


def patch(
    request: Request,
    body: Any = Body(None),
    ctx: RequestContext = Depends(context),
    version: Version = Depends(microversion),
) -> Response:
    return _apply_patch(request, body, ctx, version)


def _apply_patch(request: Request, body: Any, ctx: RequestContext, version: Version) -> Response:
    authorize(ctx, "accelerator_request:update")
    plan = parse(ARQPatch, body).plan
    if any(b.project_id is not None for b in plan.binds):
        if version < PROJECT_ID_ON_BIND:
            raise NotAcceptable(f"/project_id in a bind needs microversion {PROJECT_ID_ON_BIND} or later.")
        if not ctx.is_admin:
            raise Forbidden("Only admins may set /project_id when binding.")
    require_service(ctx, "Binding or unbinding accelerator requests")
    binding.apply_patch(app_state(request), ctx, plan)
    return Response(status_code=202)


def patch_one(
    request: Request,
    arq_uuid: str,
    body: Any = Body(None),
    ctx: RequestContext = Depends(context),
    version: Version = Depends(microversion),
) -> Response:
    authorize(ctx, "accelerator_request:update")
    return _apply_patch(request, _single_patch_body(arq_uuid, body), ctx, version)


def delete(
    request: Request,
    arqs: str | None = None,
    instance: str | None = None,
    ctx: RequestContext = Depends(context),
) -> Response:
    authorize(ctx, "accelerator_request:delete")
    if (arqs is None) == (instance is None):
        raise InvalidInput("Give exactly one of ?arqs=<uuid,...> or ?instance=<uuid>.")
    uuids = None
    if arqs is not None:
        uuids = [canonical_uuid(u.strip(), "Accelerator request uuid") for u in arqs.split(",") if u.strip()]
        if not uuids:
            raise InvalidInput("?arqs= names no accelerator request.")
    else:
        require_service(ctx, "Deleting the accelerator requests of an instance")
        instance = canonical_uuid(instance, "instance")
    binding.delete_arqs(app_state(request), ctx, uuids, instance)
    return Response(status_code=204)


def delete_one(request: Request, arq_uuid: str, ctx: RequestContext = Depends(context)) -> Response:
    try:
        canonical_uuid(arq_uuid, "Accelerator request uuid")
    except InvalidInput as exc:
        raise NotFound(f"Accelerator request {arq_uuid} could not be found.") from exc
    return delete(request, arq_uuid, None, ctx)
