"""/v2/devices (contract §1.5): list with filters, get, enable/disable."""

from __future__ import annotations

from typing import Any

from fastapi import Body, Depends, Request, Response
from fastapi.responses import JSONResponse

from accord.api import render
from accord.api.auditing import refusals_audited
from accord.api.microversions import DEVICE_STATUS, Version
from accord.api.policy import authorize
from accord.api.state import app_state, base_url, context, microversion
from accord.domain.context import RequestContext
from accord.store import audit, hardware
from accord.store.firmware import request_flash


def list_(
    request: Request,
    type: str | None = None,
    vendor: str | None = None,
    hostname: str | None = None,
    ctx: RequestContext = Depends(context),
    version: Version = Depends(microversion),
) -> Any:
    authorize(ctx, "device:get_all")
    with app_state(request).db.read() as session:
        rows = hardware.list_devices(session, type, vendor, hostname)
        base = base_url(request)
        return {"devices": [render.device(base, r, version >= DEVICE_STATUS) for r in rows]}


def show(
    request: Request,
    device_uuid: str,
    ctx: RequestContext = Depends(context),
    version: Version = Depends(microversion),
) -> Any:
    authorize(ctx, "device:get_one")
    with app_state(request).db.read() as session:
        row = hardware.get_device(session, device_uuid)
        return render.device(base_url(request), row, version >= DEVICE_STATUS)


def _set_status(request: Request, device_uuid: str, ctx: RequestContext, status: str) -> Response:
    authorize(ctx, "device:disable" if status == "maintaining" else "device:enable")
    state = app_state(request)
    with state.db.write() as session:
        hostname = hardware.set_device_status(session, device_uuid, status).hostname
        action = "device.disable" if status == "maintaining" else "device.enable"
        audit.record(
            session, ctx, action, "device", device_uuid.lower(), "success", device_uuid=device_uuid.lower()
        )
    state.refresh_hosts({hostname})
    return Response(status_code=200)


def disable(request: Request, device_uuid: str, ctx: RequestContext = Depends(context)) -> Response:
    return _set_status(request, device_uuid, ctx, "maintaining")


def enable(request: Request, device_uuid: str, ctx: RequestContext = Depends(context)) -> Response:
    return _set_status(request, device_uuid, ctx, "enabled")


def health(request: Request, device_uuid: str, ctx: RequestContext = Depends(context)) -> Any:
    """Accord's own view of a device's condition (Cyborg's device shape has no room for it)."""
    authorize(ctx, "device:get_one")
    with app_state(request).db.read() as session:
        row = hardware.get_device(session, device_uuid)
        return {
            "uuid": row.uuid,
            "pci_address": row.pci_address,
            "driver": row.driver,
            "numa_node": row.numa_node,
            "firmware_version": row.firmware_version,
            "health": "unusable" if row.quarantine_reason else row.health,
            "reasons": [*row.health_reasons, *([row.quarantine_reason] if row.quarantine_reason else [])],
            "quarantine_reason": row.quarantine_reason,
            "lost": row.lost,
        }


def flash_firmware(
    request: Request, device_uuid: str, body: Any = Body(None), ctx: RequestContext = Depends(context)
) -> Any:
    authorize(ctx, "device:firmware")
    state = app_state(request)
    with (
        refusals_audited(state, ctx, "device.firmware", "device", device_uuid),
        state.db.write() as session,
    ):
        device = hardware.get_device(session, device_uuid)
        operation = request_flash(session, device, body, ctx.user_id)
        audit.record(
            session,
            ctx,
            "device.firmware",
            "device",
            device.uuid,
            "started",
            device_uuid=device.uuid,
            image_sha256=operation.params.get("sha256"),
            image_uuid=operation.params.get("image_uuid"),
            operation_uuid=operation.uuid,
            version=operation.params.get("version"),
            previous_version=operation.params.get("previous_version"),
        )
        return JSONResponse(render.operation(base_url(request), operation, device.uuid), status_code=202)
