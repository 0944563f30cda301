"""`PATCH /v2/deployables/{uuid}/program` (admin): Cyborg's manual programming, through the same
operation path as binds. Answers 200 with the deployable when the agent finishes in time (as
Cyborg does), otherwise 202 with the operation to watch."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Body, Depends, Request
from fastapi.responses import JSONResponse

from accord.api import render
from accord.api.policy import authorize
from accord.api.routes.deployables import render_deployables
from accord.api.schemas import DeployableProgram, parse
from accord.api.state import app_state, base_url, context
from accord.domain.context import RequestContext
from accord.domain.errors import Conflict
from accord.services.auditing import refusals_audited
from accord.store import audit, hardware
from accord.store.models import Operation
from accord.store.programming import request_admin_program

POLL_S = 0.1


def program(
    request: Request, deployable_uuid: str, body: Any = Body(None), ctx: RequestContext = Depends(context)
) -> Any:
    authorize(ctx, "deployable:program")
    image_uuid = parse(DeployableProgram, body).image_uuid
    state = app_state(request)
    with (
        refusals_audited(
            state.db, ctx, "deployable.program", "deployable", deployable_uuid, image_uuid=image_uuid
        ),
        state.db.write() as session,
    ):
        deployable = hardware.get_deployable(session, deployable_uuid)
        operation = request_admin_program(session, deployable, image_uuid, ctx.user_id)
        operation_id = operation.id
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
    deadline = time.monotonic() + state.settings.program_wait_s
    while time.monotonic() < deadline:
        with state.db.read() as session:
            op = session.get(Operation, operation_id)
            if op is not None and op.state in ("succeeded", "failed"):
                if op.state == "failed":
                    raise Conflict(f"Programming {image_uuid} failed: {op.error}")
                views = hardware.deployable_views(
                    session, [hardware.get_deployable(session, deployable_uuid)]
                )
                return render_deployables(base_url(request), views)[0]
        time.sleep(POLL_S)
    with state.db.read() as session:
        op = session.get(Operation, operation_id)
        assert op is not None
        return JSONResponse(render.operation(base_url(request), op, None), status_code=202)
