"""Refused requests leave an audit event too.

The refused request's own transaction rolls back (nothing it touched is kept), so the event is
written in a transaction of its own. Lookups that fail (404) are not decisions and are not audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from accord.domain.context import RequestContext
from accord.domain.errors import AccordError
from accord.store import audit
from accord.store.db import Database

AUDITED_STATUSES = (400, 403, 409, 413)


@contextmanager
def refusals_audited(
    db: Database,
    ctx: RequestContext,
    action: str,
    target_type: str,
    target_uuid: str | None = None,
    **detail: Any,
) -> Iterator[None]:
    try:
        yield
    except AccordError as exc:
        if exc.status in AUDITED_STATUSES:
            with db.write() as session:
                audit.record(
                    session, ctx, action, target_type, target_uuid, "refused", reason=exc.message, **detail
                )
        raise
