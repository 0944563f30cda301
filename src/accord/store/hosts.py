"""Host queries: the hosts agents report for, with how many devices each holds."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accord.domain.errors import NotFound
from accord.store.models import Device, Host


def device_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Device.hostname, func.count()).group_by(Device.hostname))
    return {name: count for name, count in rows}


def list_hosts(session: Session) -> list[tuple[Host, int]]:
    counts = device_counts(session)
    return [(h, counts.get(h.name, 0)) for h in session.scalars(select(Host).order_by(Host.name))]


def get_host(session: Session, hostname: str) -> tuple[Host, int]:
    host = session.scalar(select(Host).where(Host.name == hostname))
    if host is None:
        raise NotFound(f"Host {hostname!r} could not be found.")
    count = session.scalar(select(func.count()).select_from(Device).where(Device.hostname == hostname))
    return host, int(count or 0)
