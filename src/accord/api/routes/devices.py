"""/v2/devices (contract §1.5): list with filters, get, enable/disable."""

from __future__ import annotations

from typing import Any

from fastapi import Body, Depends, Request, Response
from fastapi.responses import JSONResponse

from accord.api import render
from accord.api.microversions import DEVICE_STATUS, Version
from accord.api.policy import authorize
from accord.api.schemas import FirmwareFlash, parse
from accord.api.state import app_state, base_url, context, microversion
from accord.domain.context import RequestContext
from accord.services import firmware
from accord.services import hardware as hardware_services
from accord.store import hardware


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


def _set_status(request: Request, device_uuid: str, ctx: RequestContext, enabled: bool) -> Response:
    authorize(ctx, "device:enable" if enabled else "device:disable")
    hardware_services.set_device_status(app_state(request), ctx, device_uuid, enabled)
    return Response(status_code=200)


def disable(request: Request, device_uuid: str, ctx: RequestContext = Depends(context)) -> Response:
    return _set_status(request, device_uuid, ctx, enabled=False)


def enable(request: Request, device_uuid: str, ctx: RequestContext = Depends(context)) -> Response:
    return _set_status(request, device_uuid, ctx, enabled=True)


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
    wanted = parse(FirmwareFlash, body)
    operation, device = firmware.flash(app_state(request), ctx, device_uuid, wanted.image_uuid, wanted.force)
    return JSONResponse(render.operation(base_url(request), operation, device), status_code=202)
