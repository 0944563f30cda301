"""Programming use cases: Cyborg's manual `program` (admin) through the same operation path as
binds, and reading how it ended."""

from __future__ import annotations

from accord.domain.context import RequestContext
from accord.domain.errors import Conflict
from accord.services.app import Services
from accord.services.auditing import refusals_audited
from accord.store import audit, hardware
from accord.store.models import Deployable, Operation
from accord.store.operations import FAILED, SUCCEEDED, get_operation_by_id
from accord.store.programming import request_admin_program


def request_program(services: Services, ctx: RequestContext, deployable_uuid: str, image_uuid: str) -> int:
    """Queue an approved image onto a region nobody uses; returns the operation's id."""
    with (
        refusals_audited(
            services.db, ctx, "deployable.program", "deployable", deployable_uuid, image_uuid=image_uuid
        ),
        services.db.write() as session,
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


def program_outcome(
    services: Services, operation_id: int, deployable_uuid: str, image_uuid: str
) -> tuple[Operation, list[hardware.DeployableView] | None]:
    """The operation, and the programmed deployable once it succeeded; a failure is a Conflict."""
    with services.db.read() as session:
        operation = get_operation_by_id(session, operation_id)
        if operation.state == FAILED:
            raise Conflict(f"Programming {image_uuid} failed: {operation.error}")
        if operation.state != SUCCEEDED:
            return operation, None
        deployable: Deployable = hardware.get_deployable(session, deployable_uuid)
        return operation, hardware.deployable_views(session, [deployable])
