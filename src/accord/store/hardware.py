"""Device, deployable and attribute queries (the hardware the agents report)."""

from __future__ import annotations

from collections import defaultdict
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.domain.device_profile import looks_like_uuid
from accord.domain.errors import Conflict, InvalidInput, NotFound
from accord.store.models import Attribute, Deployable, Device
from accord.store.partitions import real_totals_by_deployable

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


Row = TypeVar("Row", Device, Deployable, Attribute)


def find_by_uuid(session: Session, model: type[Row], ident: str, what: str) -> Row:
    """A row by its uuid; anything that is not one of ours (or not a uuid at all) is a 404."""
    row = None
    if looks_like_uuid(ident):
        row = session.scalar(select(model).where(model.uuid == ident.lower()))
    if row is None:
        raise NotFound(f"{what} {ident} could not be found.")
    return row


def get_device(session: Session, device_uuid: str) -> Device:
    return find_by_uuid(session, Device, device_uuid, "Device")


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
    return find_by_uuid(session, Deployable, ident, "Deployable")


def resolve_deployable_ref(session: Session, ref: object) -> Deployable:
    """Attributes name their deployable by uuid (Accord) or by Cyborg's internal integer id."""
    if isinstance(ref, bool) or not isinstance(ref, int | str):
        raise InvalidInput("deployable_id must be a deployable uuid or integer id.")
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        # Ids are 32-bit on PostgreSQL: a larger number names nothing (and must not reach SQL).
        deployable = session.get(Deployable, int(ref)) if 0 < int(ref) < 2**31 else None
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
    return find_by_uuid(session, Attribute, attribute_uuid, "Attribute")


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


def add_attribute(session: Session, deployable: Deployable, key: str, value: str) -> Attribute:
    row = Attribute(deployable_id=deployable.id, key=key, value=value)
    session.add(row)
    session.flush()
    return row


def attributes_by_deployable(session: Session, ids: set[int]) -> dict[int, list[Attribute]]:
    found: dict[int, list[Attribute]] = defaultdict(list)
    if ids:
        query = select(Attribute).where(Attribute.deployable_id.in_(ids)).order_by(Attribute.id)
        for attribute in session.scalars(query):
            found[attribute.deployable_id].append(attribute)
    return found


DeployableView = tuple[Deployable, str, list[Attribute], str | None, int]


def deployable_views(session: Session, rows: list[Deployable]) -> list[DeployableView]:
    """Each deployable with what its Cyborg shape shows beside it: its device's uuid, its
    attributes, its parent's uuid, read in three queries for the whole list, and its
    num_accelerators: for a partition, what it can really have at once now (units in use plus
    what still coexists with the rest of its device), else what the agent reported."""
    attributes = attributes_by_deployable(session, {r.id for r in rows})
    devices = device_uuids(session, {r.device_id for r in rows})
    parents = deployable_uuids(session, {r.parent_id for r in rows if r.parent_id})
    partitioned = {r.device_id for r in rows if r.partition}
    totals = real_totals_by_deployable(session, partitioned) if partitioned else {}
    return [
        (
            r,
            devices[r.device_id],
            attributes[r.id],
            parents.get(r.parent_id or 0),
            totals.get(r.id, r.num_accelerators),
        )
        for r in rows
    ]
