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
from accord.api.policy import authorize
from accord.api.routes.deployables import render_deployables
from accord.api.schemas import DeployableProgram, parse
from accord.api.state import app_state, base_url, context
from accord.domain.context import RequestContext
from accord.services import programming

# Polls start fast (simulated or quick tools) and back off to a gentle rate for slow ones.
FIRST_POLL_S = 0.05
MAX_POLL_S = 0.5


async def program(
    request: Request, deployable_uuid: str, body: Any = Body(None), ctx: RequestContext = Depends(context)
) -> Any:
    authorize(ctx, "deployable:program")
    image_uuid = parse(DeployableProgram, body).image_uuid
    state = app_state(request)
    base = base_url(request)
    operation_id = await run_in_threadpool(
        programming.request_program, state, ctx, deployable_uuid, image_uuid
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + state.settings.program_wait_s
    pause = FIRST_POLL_S
    while True:
        operation, views = await run_in_threadpool(
            programming.program_outcome, state, operation_id, deployable_uuid, image_uuid
        )
        if views is not None:
            return render_deployables(base, views)[0]
        if loop.time() >= deadline:
            return JSONResponse(render.operation(base, operation, None), status_code=202)
        await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))
        pause = min(pause * 2, MAX_POLL_S)
