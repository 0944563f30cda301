"""/v2/accelerator_requests (contract §1.3): create, list, get, bind/unbind, delete."""

from __future__ import annotations

from typing import Any

from fastapi import Body, Depends, Request, Response

from accord.api import render
from accord.api.auditing import refusals_audited
from accord.api.microversions import PROJECT_ID_ON_BIND, Version
from accord.api.policy import authorize, require_service
from accord.api.state import AppState, app_state, base_url, context, microversion
from accord.domain.arq import PatchPlan, parse_patch
from accord.domain.context import RequestContext
from accord.domain.device_profile import canonical_uuid
from accord.domain.errors import Forbidden, InvalidInput, NotAcceptable, NotFound
from accord.store import arqs as arq_store
from accord.store import audit
from accord.store.binding import BindResult, bind_arqs, unbind_arqs


def create(request: Request, body: Any = Body(None), ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "accelerator_request:create")
    if not isinstance(body, dict):
        raise InvalidInput('The body must be an object like {"device_profile_name": "dp1"}.')
    unknown = set(body) - {"device_profile_name", "device_profile_group_id"}
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.")
    name = body.get("device_profile_name")
    if not isinstance(name, str):
        raise InvalidInput("'device_profile_name' is required and must be a string.")
    group = body.get("device_profile_group_id")
    if group is not None and (isinstance(group, bool) or not isinstance(group, int)):
        raise InvalidInput("'device_profile_group_id' must be an integer.")
    with app_state(request).db.write() as session:
        rows = arq_store.create_arqs(session, ctx, name, group)
        base = base_url(request)
        return {"arqs": [render.arq(base, r) for r in rows]}


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
    plan = parse_patch(body, project_id_allowed=True)
    if any(b.project_id is not None for b in plan.binds):
        if version < PROJECT_ID_ON_BIND:
            raise NotAcceptable(f"/project_id in a bind needs microversion {PROJECT_ID_ON_BIND} or later.")
        if not ctx.is_admin:
            raise Forbidden("Only admins may set /project_id when binding.")
    require_service(ctx, "Binding or unbinding accelerator requests")
    state = app_state(request)
    arqs = [b.arq_uuid for b in plan.binds] or [u.arq_uuid for u in plan.unbinds]
    action = "arq.bind" if plan.binds else "arq.unbind"
    with refusals_audited(
        state, ctx, action, "accelerator_request", arqs[0] if len(arqs) == 1 else None, arqs=arqs
    ):
        result, hosts = _bind_or_unbind(state, ctx, plan)
    state.refresh_hosts(hosts)
    if plan.binds:
        state.notify_resolved(result.resolved)
    return Response(status_code=202)


def _bind_or_unbind(
    state: AppState, ctx: RequestContext, plan: PatchPlan
) -> tuple[BindResult, set[str | None]]:
    result = BindResult()
    hosts: set[str | None] = set()
    with state.db.write() as session:
        if plan.binds:
            result = bind_arqs(
                session, ctx, plan.binds, state.preparers, state.chooser, skip_locked=not state.db.is_sqlite
            )
            for arq in [*result.resolved, *result.pending]:
                audit.record_arq(session, ctx, "arq.bind", arq)
                hosts.add(arq.hostname)
        else:
            rows = arq_store.get_arqs_for_update(session, ctx, [u.arq_uuid for u in plan.unbinds])
            for arq in rows:
                audit.record_arq(session, ctx, "arq.unbind", arq, "success")
                hosts.add(arq.hostname)
            unbind_arqs(session, rows)
    return result, hosts


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
    db = app_state(request).db
    with db.write() as session:
        if arqs is not None:
            uuids = [
                canonical_uuid(u.strip(), "Accelerator request uuid") for u in arqs.split(",") if u.strip()
            ]
            if not uuids:
                raise InvalidInput("?arqs= names no accelerator request.")
            rows = arq_store.get_arqs_for_update(session, ctx, uuids)
            arq_store.require_service_for_bound(ctx, rows)
        else:
            require_service(ctx, "Deleting the accelerator requests of an instance")
            rows = arq_store.list_arqs(session, ctx, canonical_uuid(instance, "instance"))
        hosts = {arq.hostname for arq in rows}
        for arq in rows:
            audit.record_arq(session, ctx, "arq.delete", arq, "success")
        unbind_arqs(session, [r for r in rows if r.state not in ("Initial", "Unbound")])
        arq_store.delete_rows(session, rows)
    app_state(request).refresh_hosts(hosts)
    return Response(status_code=204)


def delete_one(request: Request, arq_uuid: str, ctx: RequestContext = Depends(context)) -> Response:
    try:
        canonical_uuid(arq_uuid, "Accelerator request uuid")
    except InvalidInput as exc:
        raise NotFound(f"Accelerator request {arq_uuid} could not be found.") from exc
    return delete(request, arq_uuid, None, ctx)
