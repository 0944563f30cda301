"""Device-profile queries.

The API's paths read and write profiles as rows (`ProfileRow`), not ORM objects: a profile is
one table, and loading objects into a session's identity map (and flushing a unit of work to
insert one) cost more CPU per request than the query itself. The scheduler's paths that walk
from an ARQ to its profile still use the `DeviceProfile` model.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, Table, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accord.domain.device_profile import ProfileSpec, looks_like_uuid
from accord.domain.errors import Conflict, DuplicateName, InUse, NotFound
from accord.store.models import AcceleratorRequest, DeviceProfile, new_uuid, utcnow


class ProfileRow(NamedTuple):
    id: int
    uuid: str
    name: str
    description: str | None
    profile_json: dict[str, Any]
    created_at: datetime
    updated_at: datetime | None


_TABLE = cast(Table, DeviceProfile.__table__)
_COLUMNS = [_TABLE.c[name] for name in ProfileRow._fields]
# Built once: a statement object reused as is skips SQLAlchemy's per-execution matching of a
# new statement's columns against the cached compiled form (a quarter of a list's CPU).
_ALL = select(*_COLUMNS).order_by(_TABLE.c.id)
_NAMED = _ALL.where(_TABLE.c.name.in_(bindparam("names", expanding=True)))
_BY_UUID = select(*_COLUMNS).where(_TABLE.c.uuid == bindparam("ident"))
_BY_NAME = select(*_COLUMNS).where(_TABLE.c.name == bindparam("ident"))
_ID_BY_NAME = select(_TABLE.c.id).where(_TABLE.c.name == bindparam("ident"))
_ID_BY_UUID = select(_TABLE.c.id).where(_TABLE.c.uuid == bindparam("ident"))
_INSERT = insert(_TABLE)
_DELETE = delete(_TABLE).where(_TABLE.c.id.in_(bindparam("ids", expanding=True)))
_ARQ_PROFILE = cast(Table, AcceleratorRequest.__table__).c.device_profile_id
_USERS = select(_ARQ_PROFILE).where(_ARQ_PROFILE.in_(bindparam("ids", expanding=True)))


def create_profile(session: Session, spec: ProfileSpec) -> ProfileRow:
    conn = session.connection()
    if conn.scalar(_ID_BY_NAME, {"ident": spec.name}):
        raise DuplicateName(f"A device profile named {spec.name!r} already exists.")
    if spec.uuid and conn.scalar(_ID_BY_UUID, {"ident": spec.uuid}):
        raise Conflict(f"A device profile with uuid {spec.uuid} already exists.")
    row = ProfileRow(
        id=0,
        uuid=spec.uuid or new_uuid(),
        name=spec.name,
        description=spec.description,
        profile_json={"groups": [g.to_json() for g in spec.groups]},
        created_at=utcnow(),
        updated_at=None,
    )
    try:
        result = conn.execute(_INSERT, {k: v for k, v in row._asdict().items() if k != "id"})
    except IntegrityError as exc:  # lost a race with a concurrent create of the same name/uuid
        raise DuplicateName(f"Device profile {spec.name!r} was created concurrently.") from exc
    return row._replace(id=result.inserted_primary_key[0])  # type: ignore[index]


def list_profiles(connection: Connection | Session, names: Sequence[str] | None = None) -> list[ProfileRow]:
    conn = _connection(connection)
    rows = conn.execute(_ALL) if names is None else conn.execute(_NAMED, {"names": list(names)})
    return [ProfileRow(*row) for row in rows]


def find_profile(connection: Connection | Session, ident: str, *, by_name: bool) -> ProfileRow:
    """By uuid, or (when allowed) by name; a uuid-looking identifier is tried as a uuid first."""
    conn = _connection(connection)
    row = None
    if looks_like_uuid(ident):
        row = conn.execute(_BY_UUID, {"ident": ident.lower()}).first()
    if row is None and by_name:
        row = conn.execute(_BY_NAME, {"ident": ident}).first()
    if row is None:
        raise NotFound(f"Device profile {ident} could not be found.")
    return ProfileRow(*row)


def named_profile(conn: Connection, name: str) -> ProfileRow | None:
    """By exact name only (an ARQ's profile: a uuid-looking name is still a name)."""
    row = conn.execute(_BY_NAME, {"ident": name}).first()
    return None if row is None else ProfileRow(*row)


def _connection(connection: Connection | Session) -> Connection:
    # Core statements on the session's connection: rows, no ORM compile or identity map.
    return connection.connection() if isinstance(connection, Session) else connection


def delete_profiles(session: Session, idents: Sequence[str]) -> None:
    """All or nothing: every profile must exist and be unused, or nothing is deleted."""
    profiles = [find_profile(session, ident, by_name=True) for ident in idents]
    ids = [p.id for p in profiles]
    conn = session.connection()
    users = conn.scalars(_USERS, {"ids": ids}).first()
    if users is not None:
        used = next(p.name for p in profiles if p.id == users)
        raise InUse(f"Device profile {used!r} is used by accelerator requests; delete them first.")
    conn.execute(_DELETE, {"ids": ids})
