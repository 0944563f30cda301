"""/v2/audit_events: the append-only trail, newest first (admin only; there is no write verb)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Depends, Request

from accord.api import render
from accord.api.policy import authorize
from accord.api.state import app_state, context
from accord.domain.context import RequestContext
from accord.domain.errors import InvalidInput
from accord.store import audit


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"since must be an ISO 8601 time, not {value!r}.") from exc


def list_(
    request: Request,
    action: str | None = None,
    outcome: str | None = None,
    device_uuid: str | None = None,
    target_uuid: str | None = None,
    user_id: str | None = None,
    since: str | None = None,
    limit: str = "1000",
    ctx: RequestContext = Depends(context),
) -> Any:
    authorize(ctx, "audit_event:get")
    if not limit.isdigit():
        raise InvalidInput(f"limit must be a positive integer, not {limit!r}.")
    with app_state(request).db.read() as session:
        rows = audit.list_events(
            session, action, outcome, device_uuid, target_uuid, user_id, _since(since), int(limit)
        )
        return {"audit_events": [render.audit_event(r) for r in rows]}
