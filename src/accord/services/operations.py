"""Operation use cases on the agent's side: claim queued work, report how it ended.

A finished operation may resolve the ARQ waiting on it: the scheduler index hears of the host and
Nova of the ARQ, after the commit.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from accord.domain.errors import NotFound
from accord.services.app import Services
from accord.store import operations as ops
from accord.store.models import Operation


def claim(services: Services, hostname: str, limit: int) -> list[Operation]:
    with services.db.write() as session:
        return ops.claim_operations(
            session,
            hostname,
            limit=limit,
            skip_locked=not services.db.is_sqlite,
            lease=timedelta(seconds=services.settings.operation_lease_s),
        )


def finish(
    services: Services,
    hostname: str,
    operation_uuid: str,
    succeeded: bool,
    result: dict[str, Any],
    error: str | None,
    attempt: int | None,
) -> Operation:
    with services.db.write() as session:
        operation = ops.get_operation(session, operation_uuid)
        if operation.hostname != hostname:
            raise NotFound(f"Operation {operation_uuid} is not for host {hostname!r}.")
        resolved = ops.finish_operation(
            session, operation, succeeded, result, error, services.completions, attempt
        )
    services.notify_resolved(resolved)
    return operation
