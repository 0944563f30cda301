"""Hardware use cases an operator takes: enable or disable a device, add or remove attributes."""

from __future__ import annotations

from accord.domain.context import RequestContext
from accord.services.app import Services
from accord.store import audit, hardware
from accord.store.inventory import bump_inventory_generation, forget_report
from accord.store.models import Attribute, Deployable


def set_device_status(services: Services, ctx: RequestContext, device_uuid: str, enabled: bool) -> None:
    status = "enabled" if enabled else "maintaining"
    with services.db.write() as session:
        device = hardware.set_device_status(session, device_uuid, status)
        bump_inventory_generation(session, device.hostname)  # a DRA taint comes or goes
        action = "device.enable" if enabled else "device.disable"
        audit.record(session, ctx, action, "device", device.uuid, "success", device_uuid=device.uuid)


def create_attribute(
    services: Services, deployable_ref: object, key: str, value: str
) -> tuple[Attribute, str]:
    """Returns the attribute and its deployable's uuid."""
    with services.db.write() as session:
        deployable = hardware.resolve_deployable_ref(session, deployable_ref)
        row = hardware.add_attribute(session, deployable, key, value)
        forget_report(session, device_id=deployable.device_id)  # a report still replaces it
        return row, deployable.uuid


def delete_attribute(services: Services, attribute_uuid: str) -> None:
    with services.db.write() as session:
        attribute = hardware.get_attribute(session, attribute_uuid)
        session.delete(attribute)
        deployable = session.get(Deployable, attribute.deployable_id)
        if deployable is not None:  # a report puts back what it names
            forget_report(session, device_id=deployable.device_id)
