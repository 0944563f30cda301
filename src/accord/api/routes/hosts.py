"""/v2/hosts: Accord's own resource. Operators list hosts; agents report inventory and heartbeat
(which also renews the leases of the operations the agent names as running)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Body, Depends, Request
from pydantic import ValidationError
from sqlalchemy import func, select

from accord.api import render
from accord.api.policy import authorize, require_host
from accord.api.state import app_state, base_url, context
from accord.domain.context import RequestContext
from accord.domain.errors import InvalidInput, NotFound
from accord.schemas.inventory import Heartbeat, InventorySnapshot
from accord.store.inventory import apply_inventory_snapshot, touch_host
from accord.store.models import Device, Host
from accord.store.operations import renew_leases


def _device_counts(session: Any) -> dict[str, int]:
    rows = session.execute(select(Device.hostname, func.count()).group_by(Device.hostname))
    return {name: count for name, count in rows}


def list_(request: Request, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "host:get")
    with app_state(request).db.read() as session:
        counts = _device_counts(session)
        rows = session.scalars(select(Host).order_by(Host.name))
        base = base_url(request)
        return {"hosts": [render.host(base, h, counts.get(h.name, 0)) for h in rows]}


def show(request: Request, hostname: str, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "host:get")
    with app_state(request).db.read() as session:
        host = session.scalar(select(Host).where(Host.name == hostname))
        if host is None:
            raise NotFound(f"Host {hostname!r} could not be found.")
        return render.host(base_url(request), host, _device_counts(session).get(hostname, 0))


def _parse(model: type[InventorySnapshot] | type[Heartbeat], body: Any, hostname: str) -> Any:
    try:
        parsed = model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"Invalid {model.__name__} at {where or 'body'}: {first['msg']}") from exc
    if parsed.hostname != hostname:
        raise InvalidInput(f"The body is for host {parsed.hostname!r}, the URL for {hostname!r}.")
    return parsed


def report_inventory(
    request: Request, hostname: str, body: Any = Body(None), ctx: RequestContext = Depends(context)
) -> Any:
    authorize(ctx, "host:report")
    require_host(ctx, hostname)
    snapshot: InventorySnapshot = _parse(InventorySnapshot, body, hostname)
    state = app_state(request)
    with state.db.write() as session:
        summary = apply_inventory_snapshot(session, snapshot)
    state.refresh_hosts({hostname})
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
    with state.db.write() as session:
        host = touch_host(session, hostname, beat.agent_version)
        renewed, not_held = renew_leases(session, hostname, beat.operations, timedelta(seconds=lease_s))
        session.flush()
        return {
            "hostname": hostname,
            "state": host.state,
            "rescan_token": host.rescan_token,
            "lease_s": lease_s,
            "renewed": renewed,
            "not_held": not_held,
        }
