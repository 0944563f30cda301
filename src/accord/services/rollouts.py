"""Firmware rollout use cases: start a campaign, watch it, pause, resume or abort it, and the
reconciler's step that advances every campaign with work left.

Each action advances the campaign at once in the same transaction (a new campaign drains its
canary before the answer), then the reconcile tick takes it further as operations end. State
lives only in the database, so a restarted server carries on where the campaign stood.
"""

from __future__ import annotations

import logging
from typing import Any

from accord.domain.context import RequestContext
from accord.services.app import Services
from accord.services.auditing import refusals_audited
from accord.store import audit
from accord.store.models import FirmwareRollout
from accord.store.rollout_steps import advance, lock_for_step, rollouts_to_advance
from accord.store.rollouts import change_state, create_rollout, get_rollout, list_rollouts

log = logging.getLogger(__name__)


def start(services: Services, ctx: RequestContext, body: dict[str, Any]) -> FirmwareRollout:
    with (
        refusals_audited(
            services.db, ctx, "rollout.create", "firmware_rollout", image_uuid=body.get("image_uuid")
        ),
        services.db.write() as session,
    ):
        rollout = create_rollout(session, body, ctx.user_id)
        audit.record(
            session,
            ctx,
            "rollout.create",
            "firmware_rollout",
            rollout.uuid,
            "success",
            image_uuid=rollout.image_uuid,
            devices=len(rollout.devices),
            waves=1 + max(d.wave for d in rollout.devices),
            canary=rollout.canary,
            wave=rollout.wave,
            max_failures=rollout.max_failures,
            in_use=rollout.in_use,
        )
        advance(session, rollout, ctx)
    return rollout


def act(services: Services, ctx: RequestContext, rollout_uuid: str, action: str) -> FirmwareRollout:
    """pause, resume or abort; 409 when the campaign's state does not allow it."""
    with (
        refusals_audited(services.db, ctx, f"rollout.{action}", "firmware_rollout", rollout_uuid.lower()),
        services.db.write() as session,
    ):
        rollout = get_rollout(session, rollout_uuid, for_update=True)
        change_state(rollout, action)
        audit.record(session, ctx, f"rollout.{action}", "firmware_rollout", rollout.uuid, "success")
        advance(session, rollout, ctx)
    return rollout


def show(services: Services, rollout_uuid: str) -> FirmwareRollout:
    with services.db.read() as session:
        return get_rollout(session, rollout_uuid)


def list_all(services: Services, state: str | None = None) -> list[FirmwareRollout]:
    with services.db.read() as session:
        return list_rollouts(session, state)


def advance_all(services: Services) -> int:
    """The reconcile tick's step: each campaign with work left, in a transaction of its own, on
    its locked row (a replica stepping it now is skipped). Returns how many were stepped."""
    with services.db.read() as session:
        pending = rollouts_to_advance(session)
    stepped = 0
    for rollout_uuid in pending:
        try:
            with services.db.write() as session:
                rollout = lock_for_step(session, rollout_uuid, skip_locked=not services.db.is_sqlite)
                if rollout is None:
                    continue
                advance(session, rollout)
            stepped += 1
        except Exception:  # one broken campaign must not stop the others; retried next tick
            log.exception("firmware rollout %s could not be advanced", rollout_uuid)
    return stepped
