"""Firmware use case: an operator flashes an approved image onto a drained device.

Not an ARQ action: the device must be disabled and unused; the agent flashes, reads the version
back, restores or quarantines on failure (the operation's completion in `store/firmware.py`).
"""

from __future__ import annotations

from accord.domain.context import RequestContext
from accord.services.app import Services
from accord.services.auditing import refusals_audited
from accord.store import audit, hardware
from accord.store.firmware import request_flash
from accord.store.models import Operation


def flash(
    services: Services, ctx: RequestContext, device_uuid: str, image_uuid: str, force: bool
) -> tuple[Operation, str]:
    """Queue the flash; returns the operation and the device's uuid."""
    with (
        refusals_audited(services.db, ctx, "device.firmware", "device", device_uuid),
        services.db.write() as session,
    ):
        device = hardware.get_device(session, device_uuid)
        operation = request_flash(session, device, image_uuid, force, ctx.user_id)
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
        return operation, device.uuid
