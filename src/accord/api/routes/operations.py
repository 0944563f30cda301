"""Operations: admins watch them (/v2/operations); agents claim and finish their host's
(/v2/hosts/{name}/operations…) and renew what they run with their heartbeat (hosts.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from accord.api import render
from accord.api.policy import authorize, require_host
from accord.api.state import app_state, base_url, context
from accord.domain.context import RequestContext
from accord.domain.errors import InvalidInput, NotFound
from accord.store import operations as ops
from accord.store.bind_operations import RESOLVED_KEY
from accord.store.hardware import device_uuids

MAX_CLAIM = 16


class OperationResult(BaseModel):
    """What an agent reports when an operation ends; `attempt` (the claim's `attempts`) lets a
    result for an attempt whose lease ran out be told apart from the running one."""

    model_config = ConfigDict(extra="forbid")
    succeeded: StrictBool
    result: dict[str, Any] = Field(default_factory=dict)
    error: str | None = Field(default=None, max_length=4000)
    attempt: int | None = Field(default=None, ge=1, strict=True)


class ClaimRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(default=4, ge=1, le=MAX_CLAIM, strict=True)


def _validated(model: type[BaseModel], body: Any, what: str) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(
            f"Invalid {what} at {'.'.join(map(str, first['loc'])) or 'body'}: {first['msg']}"
        ) from exc


def list_(
    request: Request,
    hostname: str | None = None,
    state: str | None = None,
    kind: str | None = None,
    ctx: RequestContext = Depends(context),
) -> Any:
    authorize(ctx, "operation:get")
    with app_state(request).db.read() as session:
        rows = ops.list_operations(session, hostname, state, kind)
        devices = device_uuids(session, {r.device_id for r in rows if r.device_id})
        base = base_url(request)
        return {"operations": [render.operation(base, r, devices.get(r.device_id or 0)) for r in rows]}


def show(request: Request, operation_uuid: str, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "operation:get")
    with app_state(request).db.read() as session:
        row = ops.get_operation(session, operation_uuid)
        devices = device_uuids(session, {row.device_id} if row.device_id else set())
        return render.operation(base_url(request), row, devices.get(row.device_id or 0))


def claim(
    request: Request, hostname: str, body: Any = Body(None), ctx: RequestContext = Depends(context)
) -> Any:
    authorize(ctx, "host:report")
    require_host(ctx, hostname)
    wanted: ClaimRequest = _validated(ClaimRequest, {} if body is None else body, "claim")
    state = app_state(request)
    lease_s = state.settings.operation_lease_s
    with state.db.write() as session:
        rows = ops.claim_operations(
            session,
            hostname,
            limit=wanted.limit,
            skip_locked=not state.db.is_sqlite,
            lease=timedelta(seconds=lease_s),
        )
        base = base_url(request)
        # lease_s tells the agent how often to renew (with its heartbeat) while it works.
        return {"operations": [render.operation(base, r, None) for r in rows], "lease_s": lease_s}


def finish(
    request: Request,
    hostname: str,
    operation_uuid: str,
    body: Any = Body(None),
    ctx: RequestContext = Depends(context),
) -> Any:
    authorize(ctx, "host:report")
    require_host(ctx, hostname)
    outcome: OperationResult = _validated(OperationResult, body, "operation result")
    state = app_state(request)
    with state.db.write() as session:
        operation = ops.get_operation(session, operation_uuid)
        if operation.hostname != hostname:
            raise NotFound(f"Operation {operation_uuid} is not for host {hostname!r}.")
        ops.finish_operation(
            session,
            operation,
            outcome.succeeded,
            outcome.result,
            outcome.error,
            state.completions,
            outcome.attempt,
        )
        resolved = list(session.info.pop(RESOLVED_KEY, []))
        body_out = render.operation(base_url(request), operation, None)
    state.refresh_hosts({hostname})
    state.notify_resolved(resolved)
    return body_out
