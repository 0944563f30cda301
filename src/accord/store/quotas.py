"""Per-project quotas by resource class, enforced when ARQs take attach handles.

The project's quota rows are locked for the bind transaction (PostgreSQL), so two concurrent
binds of one project cannot both squeeze under the limit; SQLite serialises writers anyway.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accord.domain.arq import ARQState
from accord.domain.device_profile import is_valid_resource_class
from accord.domain.errors import InvalidInput, NotFound, QuotaExceeded
from accord.store.models import AcceleratorRequest, AttachHandle, Deployable, Quota

HOLDING = (ARQState.BIND_STARTED.value, ARQState.BOUND.value)
MAX_LIMIT = 1_000_000


def set_quota(session: Session, project_id: str, resource_class: str, limit: object) -> Quota:
    if not is_valid_resource_class(resource_class):
        raise InvalidInput(f"Unknown resource class {resource_class!r}.")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"'limit' must be a whole number from 0 to {MAX_LIMIT}.")
    quota = session.scalar(
        select(Quota).where(Quota.project_id == project_id, Quota.resource_class == resource_class)
    )
    if quota is None:
        quota = Quota(project_id=project_id, resource_class=resource_class, limit=limit)
        session.add(quota)
    quota.limit = limit
    session.flush()
    return quota


def delete_quota(session: Session, project_id: str, resource_class: str) -> None:
    quota = session.scalar(
        select(Quota).where(Quota.project_id == project_id, Quota.resource_class == resource_class)
    )
    if quota is None:
        raise NotFound(f"Project {project_id} has no quota for {resource_class}.")
    session.delete(quota)


def list_quotas(session: Session, project_id: str | None = None) -> list[Quota]:
    query = select(Quota).order_by(Quota.project_id, Quota.resource_class)
    if project_id is not None:
        query = query.where(Quota.project_id == project_id)
    return list(session.scalars(query))


def usage(session: Session, project_id: str) -> Counter[str]:
    rows = session.execute(
        select(Deployable.resource_class, func.count())
        .select_from(AcceleratorRequest)
        .join(AttachHandle, AttachHandle.arq_id == AcceleratorRequest.id)
        .join(Deployable, Deployable.id == AttachHandle.deployable_id)
        .where(AcceleratorRequest.project_id == project_id, AcceleratorRequest.state.in_(HOLDING))
        .group_by(Deployable.resource_class)
    )
    return Counter({rc: count for rc, count in rows})


def enforce(session: Session, wanted: Sequence[tuple[str | None, str]]) -> None:
    """`wanted` is (project_id, resource_class) per ARQ about to take a handle."""
    by_project: dict[str, Counter[str]] = {}
    for project_id, resource_class in wanted:
        if project_id is not None:
            by_project.setdefault(project_id, Counter())[resource_class] += 1
    for project_id, asked in by_project.items():
        quotas = {
            q.resource_class: q.limit
            for q in session.scalars(select(Quota).where(Quota.project_id == project_id).with_for_update())
        }
        if not quotas:
            continue
        used = usage(session, project_id)
        for resource_class, count in asked.items():
            limit = quotas.get(resource_class)
            if limit is not None and used[resource_class] + count > limit:
                raise QuotaExceeded(
                    f"Project {project_id} would use {used[resource_class] + count} {resource_class}, "
                    f"over its quota of {limit}."
                )
