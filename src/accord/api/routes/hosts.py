"""/v2/hosts: Accord's own resource. Operators list hosts; agents report inventory and heartbeat
(which also renews the leases of the operations the agent names as running)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Body, Depends, Request

from accord.api import render
from accord.api.policy import authorize, require_host
from accord.api.schemas import HostEnrolment, parse
from accord.api.state import app_state, base_url, context
from accord.domain.context import RequestContext
from accord.domain.errors import InvalidInput
from accord.schemas.inventory import Heartbeat, InventorySnapshot
from accord.services import baremetal, inventory
from accord.store import hosts


def list_(request: Request, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "host:get")
    with app_state(request).db.read() as session:
        base = base_url(request)
        return {"hosts": [render.host(base, h, count) for h, count in hosts.list_hosts(session)]}


def show(request: Request, hostname: str, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "host:get")
    with app_state(request).db.read() as session:
        host, count = hosts.get_host(session, hostname)
        return render.host(base_url(request), host, count)


def enrol(
    request: Request, hostname: str, body: Any = Body(None), ctx: RequestContext = Depends(context)
) -> Any:
    authorize(ctx, "host:update")
    wanted = parse(HostEnrolment, body)
    state = app_state(request)
    baremetal.enrol(state, ctx, hostname, wanted.bare_metal)
    with state.db.read() as session:
        host, count = hosts.get_host(session, hostname)
        return render.host(base_url(request), host, count)


def _parse(model: type[InventorySnapshot] | type[Heartbeat], body: Any, hostname: str) -> Any:
    parsed = parse(model, body)
    if parsed.hostname != hostname:
        raise InvalidInput(f"The body is for host {parsed.hostname!r}, the URL for {hostname!r}.")
    return parsed


def report_inventory(
    request: Request, hostname: str, body: Any = Body(None), ctx: RequestContext = Depends(context)
) -> Any:
    authorize(ctx, "host:report")
    require_host(ctx, hostname)
    snapshot: InventorySnapshot = _parse(InventorySnapshot, body, hostname)
    summary = inventory.report(app_state(request), snapshot)
    return {
        "hostname": hostname,
        "added": summary.added,
        "updated": summary.updated,
        "removed": summary.removed,
        "kept_lost": summary.kept_lost,
    }


def heartbeat(
    request: Request, hostname: str, body: Any = Body(None), ctx: RequestContext = Depends(context)
) -> Any:
    authorize(ctx, "host:report")
    require_host(ctx, hostname)
    beat: Heartbeat = _parse(Heartbeat, body, hostname)
    state = app_state(request)
    lease_s = state.settings.operation_lease_s
    result = inventory.heartbeat(state, beat, timedelta(seconds=lease_s))
    return {
        "hostname": hostname,
        "state": "up",  # a heartbeat always marks its host up
        "rescan_token": result.rescan_token,
        "lease_s": lease_s,
        "renewed": result.renewed,
        "not_held": result.not_held,
    }
