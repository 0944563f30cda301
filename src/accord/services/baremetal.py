"""Bare-metal use cases: an operator enrols an Ironic node as a host; the node's ramdisk starts
its own programming or firmware operation from an Ironic step (audited like the operator's)."""

from __future__ import annotations

from datetime import timedelta

from accord.domain.context import RequestContext
from accord.services.app import Services
from accord.services.auditing import refusals_audited
from accord.store import audit, baremetal
from accord.store.models import Device, Host, Operation

ACTIONS = {"program": "deployable.program", "firmware": "device.firmware"}


def enrol(services: Services, ctx: RequestContext, hostname: str, bare_metal: bool) -> Host:
    with services.db.write() as session:
        host = baremetal.enrol_host(session, hostname, bare_metal)
        audit.record(
            session, ctx, "host.enrol", "host", None, "succeeded", hostname=hostname, bare_metal=bare_metal
        )
    return host


def start_own_operations(
    services: Services,
    ctx: RequestContext,
    hostname: str,
    kind: str,
    image_uuid: str,
    pci_address: str | None,
) -> list[Operation]:
    action = ACTIONS[kind]
    with (
        refusals_audited(services.db, ctx, action, "host", None, hostname=hostname, image_uuid=image_uuid),
        services.db.write() as session,
    ):
        operations = baremetal.start_own_operations(
            session,
            hostname,
            kind,
            image_uuid,
            pci_address,
            timedelta(seconds=services.settings.operation_lease_s),
        )
        for operation in operations:
            device = session.get(Device, operation.device_id) if operation.device_id else None
            device_uuid = device.uuid if device else None
            audit.record(
                session,
                ctx,
                action,
                "device",
                device_uuid,
                "started",
                device_uuid=device_uuid,
                image_sha256=operation.params.get("sha256"),
                image_uuid=image_uuid,
                operation_uuid=operation.uuid,
                hostname=hostname,
            )
        return operations
