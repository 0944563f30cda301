"""Leases on background tasks, so each runs on one replica at a time (no new infrastructure:
a row per task in the shared database, taken and renewed by compare-and-set).

A holder renews its lease on every tick; a replica that dies stops renewing, and the first
replica to tick after `expires_at` takes the task over. Times come from the replicas' clocks,
so their skew must stay well under the lease length (NTP keeps it to milliseconds).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from accord.store.models import TaskLease


def acquire(session: Session, name: str, holder: str, now: datetime, ttl: timedelta) -> str | None:
    """Take or renew the lease on `name` until now + ttl. Returns the previous holder when it
    succeeds (this holder itself on a renewal, "" for a new lease), None when another holds it."""
    # Each dialect's INSERT … ON CONFLICT is imported on use: SQLAlchemy's PostgreSQL dialect
    # package is ~2 MiB that a SQLite server would otherwise hold for nothing.
    insert: Callable[[type[TaskLease]], Any]
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        insert = pg_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        insert = sqlite_insert
    created = session.scalar(
        insert(TaskLease)
        .values(name=name, holder=holder, expires_at=now + ttl, acquired_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(TaskLease.name)
    )
    if created is not None:
        return ""
    previous = session.scalar(select(TaskLease.holder).where(TaskLease.name == name))
    if previous is None:
        return None
    taken = session.execute(
        update(TaskLease)
        .where(
            TaskLease.name == name,
            TaskLease.holder == previous,  # compare-and-set: nobody took it since we read it
            or_(TaskLease.holder == holder, TaskLease.expires_at < now),
        )
        .values(
            holder=holder,
            expires_at=now + ttl,
            **({} if previous == holder else {"acquired_at": now}),
        )
    )
    return previous if taken.rowcount == 1 else None  # type: ignore[attr-defined]


def release(session: Session, names: list[str], holder: str, now: datetime) -> None:
    """A holder stopping cleanly hands its tasks on at once instead of after the lease."""
    session.execute(
        update(TaskLease)
        .where(TaskLease.name.in_(names), TaskLease.holder == holder)
        .values(expires_at=now - timedelta(seconds=1))
    )


def leases(session: Session) -> list[TaskLease]:
    return list(session.scalars(select(TaskLease).order_by(TaskLease.name)))
