"""Operations: admins watch them (/v2/operations); agents claim and finish their host's
(/v2/hosts/{name}/operations…) and renew what they run with their heartbeat (hosts.py)."""

from __future__ import annotations

from typing import Any

from fastapi import Body, Depends, Request

from accord.api import render
from accord.api.policy import authorize, require_host
from accord.api.schemas import ClaimRequest, HostOperationStart, OperationResult, parse
from accord.api.state import app_state, base_url, context
from accord.domain.context import RequestContext
from accord.services import baremetal, operations
from accord.store import operations as ops
from accord.store.hardware import device_uuids


def list_(
    request: Request,
    hostname: str | None = None,
    state: str | None = None,
    kind: str | None = None,
    ctx: RequestContext = Depends(context),
) -> Any:
    authorize(ctx, "operation:get")
    with app_state(request).db.read() as session:
        rows = ops.list_operations(session, hostname, state, kind)
        devices = device_uuids(session, {r.device_id for r in rows if r.device_id})
        base = base_url(request)
        return {"operations": [render.operation(base, r, devices.get(r.device_id or 0)) for r in rows]}


def show(request: Request, operation_uuid: str, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "operation:get")
    with app_state(request).db.read() as session:
        row = ops.get_operation(session, operation_uuid)
        devices = device_uuids(session, {row.device_id} if row.device_id else set())
        return render.operation(base_url(request), row, devices.get(row.device_id or 0))


def claim(
    request: Request, hostname: str, body: Any = Body(None), ctx: RequestContext = Depends(context)
) -> Any:
    authorize(ctx, "host:report")
    require_host(ctx, hostname)
    wanted = parse(ClaimRequest, {} if body is None else body)
    state = app_state(request)
    rows = operations.claim(state, hostname, wanted.limit)
    base = base_url(request)
    # lease_s tells the agent how often to renew (with its heartbeat) while it works.
    return {
        "operations": [render.operation(base, r, None) for r in rows],
        "lease_s": state.settings.operation_lease_s,
    }


def start_own(
    request: Request, hostname: str, body: Any = Body(None), ctx: RequestContext = Depends(context)
) -> Any:
    """A bare-metal node's ramdisk starts its own operation, leased to it at once (as a claim)."""
    authorize(ctx, "host:report")
    require_host(ctx, hostname)
    wanted = parse(HostOperationStart, body)
    state = app_state(request)
    rows = baremetal.start_own_operations(
        state, ctx, hostname, wanted.kind, wanted.image_uuid, wanted.pci_address
    )
    base = base_url(request)
    return {
        "operations": [render.operation(base, r, None) for r in rows],
        "lease_s": state.settings.operation_lease_s,
    }


def finish(
    request: Request,
    hostname: str,
    operation_uuid: str,
    body: Any = Body(None),
    ctx: RequestContext = Depends(context),
) -> Any:
    authorize(ctx, "host:report")
    require_host(ctx, hostname)
    outcome = parse(OperationResult, body)
    operation = operations.finish(
        app_state(request),
        hostname,
        operation_uuid,
        outcome.succeeded,
        outcome.result,
        outcome.error,
        outcome.attempt,
    )
    return render.operation(base_url(request), operation, None)
