"""Device, deployable and attribute queries (the hardware the agents report)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.domain.device_profile import looks_like_uuid
from accord.domain.errors import Conflict, InvalidInput, NotFound
from accord.store.models import Attribute, Deployable, Device

DEVICE_STATUSES = ("enabled", "maintaining")


def list_devices(
    session: Session,
    type_: str | None = None,
    vendor: str | None = None,
    hostname: str | None = None,
) -> list[Device]:
    query = select(Device).order_by(Device.id)
    if type_ is not None:
        query = query.where(Device.type == type_)
    if vendor is not None:
        query = query.where(Device.vendor == vendor)
    if hostname is not None:
        query = query.where(Device.hostname == hostname)
    return list(session.scalars(query))


def get_device(session: Session, device_uuid: str) -> Device:
    device = None
    if looks_like_uuid(device_uuid):
        device = session.scalar(select(Device).where(Device.uuid == device_uuid.lower()))
    if device is None:
        raise NotFound(f"Device {device_uuid} could not be found.")
    return device


def set_device_status(session: Session, device_uuid: str, status: str) -> Device:
    device = get_device(session, device_uuid)
    if status == "enabled" and device.quarantine_reason:
        raise Conflict(
            f"Device {device.uuid} is quarantined ({device.quarantine_reason}); flash working firmware first."
        )
    device.status = status
    return device


def list_deployables(session: Session) -> list[Deployable]:
    return list(session.scalars(select(Deployable).order_by(Deployable.id)))


def get_deployable(session: Session, ident: str) -> Deployable:
    deployable = None
    if looks_like_uuid(ident):
        deployable = session.scalar(select(Deployable).where(Deployable.uuid == ident.lower()))
    if deployable is None:
        raise NotFound(f"Deployable {ident} could not be found.")
    return deployable


def resolve_deployable_ref(session: Session, ref: object) -> Deployable:
    """Attributes name their deployable by uuid (Accord) or by Cyborg's internal integer id."""
    if isinstance(ref, bool) or not isinstance(ref, int | str):
        raise InvalidInput("deployable_id must be a deployable uuid or integer id.")
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        deployable = session.get(Deployable, int(ref))
        if deployable is None:
            raise NotFound(f"Deployable {ref} could not be found.")
        return deployable
    return get_deployable(session, ref)


def list_attributes(
    session: Session, deployable: Deployable | None = None, key: str | None = None
) -> list[Attribute]:
    query = select(Attribute).order_by(Attribute.id)
    if deployable is not None:
        query = query.where(Attribute.deployable_id == deployable.id)
    if key is not None:
        query = query.where(Attribute.key == key)
    return list(session.scalars(query))


def get_attribute(session: Session, attribute_uuid: str) -> Attribute:
    attribute = None
    if looks_like_uuid(attribute_uuid):
        attribute = session.scalar(select(Attribute).where(Attribute.uuid == attribute_uuid.lower()))
    if attribute is None:
        raise NotFound(f"Attribute {attribute_uuid} could not be found.")
    return attribute


def deployable_uuids(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Deployable.id, Deployable.uuid).where(Deployable.id.in_(ids)))
    return {row.id: row.uuid for row in rows}


def device_uuids(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Device.id, Device.uuid).where(Device.id.in_(ids)))
    return {row.id: row.uuid for row in rows}
