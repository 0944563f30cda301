"""`PATCH /v2/deployables/{uuid}/program` (admin): Cyborg's manual programming, through the same
operation path as binds. Answers 200 with the deployable when the agent finishes in time (as
Cyborg does), otherwise 202 with the operation to watch.

The wait for the agent never holds a worker thread: the handler is async, sleeps with asyncio
between polls, and each database read borrows a thread only for its own few milliseconds. So
many callers waiting on slow tools leave the threads to everyone else (heartbeats included).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Body, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from accord.api import render
from accord.api.auditing import refusals_audited
from accord.api.policy import authorize
from accord.api.routes.deployables import render_deployables
from accord.api.state import AppState, app_state, base_url, context
from accord.domain.context import RequestContext
from accord.domain.errors import Conflict, InvalidInput
from accord.store import audit, hardware
from accord.store.models import Operation
from accord.store.operations import FAILED, SUCCEEDED
from accord.store.programming import request_admin_program

# Polls start fast (simulated or quick tools) and back off to a gentle rate for slow ones.
FIRST_POLL_S = 0.05
MAX_POLL_S = 0.5


def _image_uuid(body: Any) -> str:
    ok = (
        isinstance(body, list)
        and len(body) == 1
        and isinstance(body[0], dict)
        and body[0].get("op") == "replace"
        and body[0].get("path") == "/program"
        and isinstance(body[0].get("value"), list)
        and len(body[0]["value"]) == 1
        and isinstance(body[0]["value"][0], dict)
        and isinstance(body[0]["value"][0].get("image_uuid"), str)
    )
    if not ok:
        raise InvalidInput(
            'The body must be [{"op": "replace", "path": "/program", "value": [{"image_uuid": "<uuid>"}]}].'
        )
    return str(body[0]["value"][0]["image_uuid"])


def _queue(state: AppState, ctx: RequestContext, deployable_uuid: str, image_uuid: str) -> int:
    with (
        refusals_audited(
            state, ctx, "deployable.program", "deployable", deployable_uuid, image_uuid=image_uuid
        ),
        state.db.write() as session,
    ):
        deployable = hardware.get_deployable(session, deployable_uuid)
        operation = request_admin_program(session, deployable, image_uuid, ctx.user_id)
        audit.record(
            session,
            ctx,
            "deployable.program",
            "deployable",
            deployable.uuid,
            "started",
            device_uuid=deployable.device.uuid,
            image_sha256=operation.params.get("sha256"),
            image_uuid=image_uuid,
            operation_uuid=operation.uuid,
        )
        return operation.id


def _answer(
    state: AppState, base: str, operation_id: int, deployable_uuid: str, image_uuid: str, final: bool
) -> Any:
    """The response once the operation ended (or, when `final`, whatever its state), else None."""
    with state.db.read() as session:
        operation = session.get(Operation, operation_id)
        assert operation is not None  # operations are never deleted
        if operation.state == FAILED:
            raise Conflict(f"Programming {image_uuid} failed: {operation.error}")
        if operation.state == SUCCEEDED:
            return render_deployables(session, base, [hardware.get_deployable(session, deployable_uuid)])[0]
        if final:
            return JSONResponse(render.operation(base, operation, None), status_code=202)
        return None


async def program(
    request: Request, deployable_uuid: str, body: Any = Body(None), ctx: RequestContext = Depends(context)
) -> Any:
    authorize(ctx, "deployable:program")
    image_uuid = _image_uuid(body)
    state = app_state(request)
    base = base_url(request)
    operation_id = await run_in_threadpool(_queue, state, ctx, deployable_uuid, image_uuid)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + state.settings.program_wait_s
    pause = FIRST_POLL_S
    while loop.time() < deadline:
        answer = await run_in_threadpool(
            _answer, state, base, operation_id, deployable_uuid, image_uuid, False
        )
        if answer is not None:
            return answer
        await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))
        pause = min(pause * 2, MAX_POLL_S)
    return await run_in_threadpool(_answer, state, base, operation_id, deployable_uuid, image_uuid, True)
