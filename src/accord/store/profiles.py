"""Device-profile queries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accord.domain.device_profile import ProfileSpec, looks_like_uuid
from accord.domain.errors import Conflict, DuplicateName, InUse, NotFound
from accord.store.models import AcceleratorRequest, DeviceProfile


def create_profile(session: Session, spec: ProfileSpec) -> DeviceProfile:
    if session.scalar(select(DeviceProfile.id).where(DeviceProfile.name == spec.name)):
        raise DuplicateName(f"A device profile named {spec.name!r} already exists.")
    if spec.uuid and session.scalar(select(DeviceProfile.id).where(DeviceProfile.uuid == spec.uuid)):
        raise Conflict(f"A device profile with uuid {spec.uuid} already exists.")
    profile = DeviceProfile(
        name=spec.name,
        description=spec.description,
        profile_json={"groups": [g.to_json() for g in spec.groups]},
    )
    if spec.uuid:
        profile.uuid = spec.uuid
    session.add(profile)
    try:
        session.flush()
    except IntegrityError as exc:  # lost a race with a concurrent create of the same name/uuid
        raise DuplicateName(f"Device profile {spec.name!r} was created concurrently.") from exc
    return profile


def list_profiles(session: Session, names: Sequence[str] | None = None) -> list[DeviceProfile]:
    query = select(DeviceProfile).order_by(DeviceProfile.id)
    if names is not None:
        query = query.where(DeviceProfile.name.in_(names))
    return list(session.scalars(query))


def find_profile(session: Session, ident: str, *, by_name: bool) -> DeviceProfile:
    """By uuid, or (when allowed) by name; a uuid-looking identifier is tried as a uuid first."""
    profile = None
    if looks_like_uuid(ident):
        profile = session.scalar(select(DeviceProfile).where(DeviceProfile.uuid == ident.lower()))
    if profile is None and by_name:
        profile = session.scalar(select(DeviceProfile).where(DeviceProfile.name == ident))
    if profile is None:
        raise NotFound(f"Device profile {ident} could not be found.")
    return profile


def delete_profiles(session: Session, idents: Sequence[str]) -> None:
    """All or nothing: every profile must exist and be unused, or nothing is deleted."""
    profiles = [find_profile(session, ident, by_name=True) for ident in idents]
    ids = [p.id for p in profiles]
    users = session.scalars(
        select(AcceleratorRequest.device_profile_id).where(AcceleratorRequest.device_profile_id.in_(ids))
    ).first()
    if users is not None:
        used = next(p.name for p in profiles if p.id == users)
        raise InUse(f"Device profile {used!r} is used by accelerator requests; delete them first.")
    session.execute(delete(DeviceProfile).where(DeviceProfile.id.in_(ids)))
