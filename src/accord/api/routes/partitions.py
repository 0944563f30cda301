"""Partitions and their Kubernetes export: pin a GPU's mirrored vGPU type; a host's DRA
ResourceSlices and the DeviceClasses of the device profiles (`resource.k8s.io/v1`)."""

from __future__ import annotations

from typing import Any

from fastapi import Body, Depends, Request

from accord.api.policy import authorize
from accord.api.schemas import VgpuTypePin, parse
from accord.api.state import app_state, context
from accord.domain import dra
from accord.domain.context import RequestContext
from accord.services import partitions
from accord.store import dra as dra_store


def set_vgpu_type(
    request: Request, device_uuid: str, body: Any = Body(None), ctx: RequestContext = Depends(context)
) -> Any:
    authorize(ctx, "device:set_vgpu_type")
    wanted = parse(VgpuTypePin, body)
    uuid, mirrored = partitions.set_vgpu_type(app_state(request), ctx, device_uuid, wanted.vgpu_type)
    return {"uuid": uuid, "vgpu_type": wanted.vgpu_type, "mirrored_type": mirrored}


def resource_slices(request: Request, hostname: str, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "dra:get")
    state = app_state(request)
    with state.db.read() as session:
        pool = dra_store.host_pool(session, hostname, state.settings.dra_driver)
    return dra.resource_slices(pool, state.settings.dra_driver)


def device_classes(request: Request, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "dra:get")
    state = app_state(request)
    with state.db.read() as session:
        groups = dra_store.class_groups(session)
    return dra.device_classes(groups, state.settings.dra_driver)
