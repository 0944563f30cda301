"""The append-only audit trail: who did what to which device, with which image, and how it ended.

Events are written in the same transaction as the change they describe, so a rolled-back request
leaves no event and a committed change never lacks one. Nothing in Accord updates or deletes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import Connection, Table, insert, select
from sqlalchemy.orm import Session

from accord.domain.context import RequestContext
from accord.domain.errors import InvalidInput
from accord.store.models import AuditEvent, Device, Operation

OUTCOMES = ("success", "failure", "refused", "started")


def record(
    session: Session,
    actor: RequestContext | str | None,
    action: str,
    target_type: str,
    target_uuid: str | None,
    outcome: str,
    device_uuid: str | None = None,
    image_sha256: str | None = None,
    **detail: Any,
) -> AuditEvent:
    if isinstance(actor, RequestContext):
        user_id = actor.user_id or (f"agent:{actor.host}" if actor.host else None)
        project_id = actor.project_id
    else:
        user_id, project_id = actor, None
    event = AuditEvent(
        user_id=user_id,
        project_id=project_id,
        action=action,
        target_type=target_type,
        target_uuid=target_uuid,
        outcome=outcome,
        device_uuid=device_uuid,
        image_sha256=image_sha256 or None,
        detail={k: v for k, v in detail.items() if v is not None},
    )
    session.add(event)
    return event


def record_operation(session: Session, operation: Operation, actor: str | None) -> AuditEvent:
    """A finished operation (program, firmware, mdev, VFs), with the image hash it used."""
    outcome = {"succeeded": "success", "failed": "failure"}.get(operation.state, "started")
    params = operation.params or {}
    device = session.get(Device, operation.device_id) if operation.device_id is not None else None
    return record(
        session,
        actor,
        f"operation.{operation.kind}",
        "operation",
        operation.uuid,
        outcome,
        device_uuid=device.uuid if device is not None else None,
        image_sha256=params.get("sha256"),
        hostname=operation.hostname,
        image_uuid=params.get("image_uuid"),
        error=operation.error,
        result=operation.result or None,
    )


ARQ_OUTCOMES = {"Bound": "success", "BindFailed": "failure", "BindStarted": "started"}


class ArqFacts(Protocol):
    """What an ARQ's audit event tells of it: an ORM object or a row (`store/arq_rows.py`)."""

    @property
    def uuid(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def hostname(self) -> str | None: ...
    @property
    def instance_uuid(self) -> str | None: ...
    @property
    def device_rp_uuid(self) -> str | None: ...
    @property
    def project_id(self) -> str | None: ...


_INSERT = insert(cast(Table, AuditEvent.__table__))


def arq_events(
    session: Session | Connection,
    actor: RequestContext,
    action: str,
    arqs: Sequence[tuple[ArqFacts, str | None]],
    outcome: str | None = None,
) -> None:
    """A bind, unbind or delete of many ARQs in one INSERT, without the unit of work: each ARQ
    comes with the uuid of its device, already known to the caller."""
    if not arqs:
        return
    user_id = actor.user_id or (f"agent:{actor.host}" if actor.host else None)
    # on the session's connection: Session.execute's ORM machinery costs more than this INSERT
    connection = session.connection() if isinstance(session, Session) else session
    connection.execute(
        _INSERT,
        [
            {
                "user_id": user_id,
                "project_id": actor.project_id,
                "action": action,
                "target_type": "accelerator_request",
                "target_uuid": arq.uuid,
                "outcome": outcome or ARQ_OUTCOMES.get(arq.state, "success"),
                "device_uuid": device_uuid,
                "image_sha256": None,
                "detail": _arq_detail(arq),
            }
            for arq, device_uuid in arqs
        ],
    )


def _arq_detail(arq: ArqFacts) -> dict[str, Any]:
    detail = {
        "state": arq.state,
        "hostname": arq.hostname,
        "instance_uuid": arq.instance_uuid,
        "device_rp_uuid": arq.device_rp_uuid,
        "project": arq.project_id,
    }
    return {k: v for k, v in detail.items() if v is not None}


def list_events(
    session: Session,
    action: str | None = None,
    outcome: str | None = None,
    device_uuid: str | None = None,
    target_uuid: str | None = None,
    user_id: str | None = None,
    since: datetime | None = None,
    limit: int = 1000,
) -> Sequence[AuditEvent]:
    if outcome is not None and outcome not in OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}.")
    if not 1 <= limit <= 10000:
        raise InvalidInput("limit must be between 1 and 10000.")
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if action is not None:
        # "image" matches every image.* action; "image.upload" matches exactly.
        query = query.where(
            (AuditEvent.action == action) | AuditEvent.action.startswith(action + ".", autoescape=True)
        )
    for column, value in (
        (AuditEvent.outcome, outcome),
        (AuditEvent.device_uuid, device_uuid),
        (AuditEvent.target_uuid, target_uuid),
        (AuditEvent.user_id, user_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    return list(session.scalars(query))
