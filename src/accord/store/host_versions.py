"""Which hosts changed what they offer the scheduler, and when: the feed every replica's index
follows (`store/scheduler_cache.py`) instead of re-reading the fleet.

Whatever changes a host's providers as the scheduler sees them (a report's diff, a claim or a
release of a handle, the host lost or back, a device's status, traits or loaded function) notes
the host on its session (`note_changed`, or `note_usage` for a claim or a release, which the
committing process can apply to its index as is). At commit, after everything else the
transaction wrote, each noted host's row in `host_versions` is bumped (`bump_noted`), so a
change and its version commit together: a replica that read a host at version v and sees v
again has nothing to read. After the commit the process's own index hears of the versions
(`Database.on_commit`); other processes ask for the rows changed since they last looked.

Bumped last and in host-name order: a transaction holds a version row only between its last
statement and its commit, and never waits on another lock while holding one, so two
transactions can queue on a version row but never deadlock on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from accord.store.models import HostVersion, utcnow

NOTED = "accord.hosts_changed"
COMMITTED = "accord.host_versions"
VERSIONS: Table = HostVersion.__table__  # type: ignore[assignment]

# hostname -> provider (rp) uuid -> handles taken (+) or given back (-), when that is all that
# changed on the host; None: anything else changed (read the host again)
Noted = dict[str, dict[str, int] | None]
# hostname -> (its version now, what changed as in `Noted`)
Committed = dict[str, tuple[int, dict[str, int] | None]]


def note_changed(session: Session, hostnames: Iterable[str | None]) -> None:
    noted: Noted = session.info.setdefault(NOTED, {})
    for name in hostnames:
        if name:
            noted[name] = None


def note_usage(session: Session, hostname: str | None, rp_uuid: str | None, taken: int) -> None:
    """`taken` handles of the provider were claimed (or, negative, released) and nothing else."""
    if not hostname:
        return
    noted: Noted = session.info.setdefault(NOTED, {})
    if rp_uuid is None:
        noted[hostname] = None
        return
    usage = noted.setdefault(hostname, {})
    if usage is not None:
        usage[rp_uuid] = usage.get(rp_uuid, 0) + taken


@cache
def _bump_statement(dialect: str) -> Any:
    # each dialect's INSERT imported on first use: a SQLite server never loads PostgreSQL's (~2 MiB)
    statement: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement = pg_insert(VERSIONS)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(VERSIONS)
    statement = statement.values(hostname=bindparam("hostname"), version=1, changed_at=bindparam("now"))
    return statement.on_conflict_do_update(
        index_elements=[VERSIONS.c.hostname],
        set_={"version": VERSIONS.c.version + 1, "changed_at": statement.excluded.changed_at},
    ).returning(VERSIONS.c.version)


def bump_noted(session: Session) -> None:
    """Before the commit: write what is pending, then bump every noted host's version."""
    noted: Noted | None = session.info.pop(NOTED, None)
    if not noted:
        return
    session.flush()
    statement = _bump_statement(session.get_bind().dialect.name)
    now = utcnow()
    committed: Committed = {}
    for name in sorted(noted):
        version = session.execute(statement, {"hostname": name, "now": now}).scalar_one()
        committed[name] = (int(version), noted[name])
    session.info[COMMITTED] = committed


def forget_noted(session: Session) -> None:
    session.info.pop(NOTED, None)
    session.info.pop(COMMITTED, None)


def take_committed(session: Session) -> Committed | None:
    return session.info.pop(COMMITTED, None)  # type: ignore[no-any-return]


_CHANGED_SINCE = select(VERSIONS.c.hostname, VERSIONS.c.version).where(
    VERSIONS.c.changed_at >= bindparam("since")
)
_VERSIONS_OF = select(VERSIONS.c.hostname, VERSIONS.c.version).where(
    VERSIONS.c.hostname.in_(bindparam("names", expanding=True))
)


def changed_since(session: Session, since: datetime) -> dict[str, int]:
    return {name: int(version) for name, version in session.execute(_CHANGED_SINCE, {"since": since})}


def versions_of(session: Session, hostnames: Iterable[str] | None = None) -> dict[str, int]:
    """Every host's version (None) or these hosts'; a host without a row is at version 0."""
    if hostnames is None:
        rows = session.execute(select(VERSIONS.c.hostname, VERSIONS.c.version))
    else:
        rows = session.execute(_VERSIONS_OF, {"names": sorted(hostnames)})
    return {name: int(version) for name, version in rows}
