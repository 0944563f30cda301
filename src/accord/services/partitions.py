"""Partition use cases an operator takes: pin the type a GPU is mirrored with."""

from __future__ import annotations

from accord.domain.context import RequestContext
from accord.services.app import Services
from accord.store import audit, hardware
from accord.store.inventory import bump_inventory_generation
from accord.store.partitions import pin_part_type


def set_vgpu_type(
    services: Services, ctx: RequestContext, device_uuid: str, vgpu_type: str | None
) -> tuple[str, str | None]:
    """Pin (None: unpin) the type Placement and DRA see for a GPU; returns (device uuid, the
    type mirrored now: the one in use while the GPU is busy, else the pin, else the default)."""
    with services.db.write() as session:
        device = hardware.get_device(session, device_uuid)
        mirrored = pin_part_type(session, device, vgpu_type)
        bump_inventory_generation(session, device.hostname)
        audit.record(
            session,
            ctx,
            "device.set_vgpu_type",
            "device",
            device.uuid,
            "success",
            device_uuid=device.uuid,
            vgpu_type=vgpu_type,
        )
        return device.uuid, mirrored
