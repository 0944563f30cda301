"""`GET /v2/allocation_candidates?device_profile=NAME[&limit=N]`: Accord's own scheduler, ranked."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from accord.api.policy import authorize
from accord.api.state import app_state, context
from accord.domain.context import RequestContext
from accord.domain.errors import InvalidInput, NotFound
from accord.scheduler.model import Policy
from accord.store.profiles import list_profiles
from accord.store.providers import candidates_for, profile_request

MAX_LIMIT = 1000


def list_(
    request: Request,
    device_profile: str | None = None,
    limit: str | None = None,
    ctx: RequestContext = Depends(context),
) -> Any:
    authorize(ctx, "allocation_candidate:get")
    if not device_profile:
        raise InvalidInput("Name the device profile: ?device_profile=NAME.")
    count = MAX_LIMIT
    if limit is not None:
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
            raise InvalidInput(f"limit must be a whole number from 1 to {MAX_LIMIT}.")
        count = int(limit)
    state = app_state(request)
    with state.db.read() as session:
        profiles = list_profiles(session, [device_profile])
        if not profiles:
            raise NotFound(f"Device profile {device_profile!r} could not be found.")
        wanted = profile_request(profiles[0].profile_json["groups"])
        found = candidates_for(
            session, wanted, count, Policy(state.settings.scheduler_policy), cache=state.scheduler
        )
    return {
        "allocation_candidates": [
            {
                "hostname": c.hostname,
                "score": c.score,
                "groups": [
                    {
                        "group_id": g.group_id,
                        "device_uuid": g.device_uuid,
                        "deployable_uuid": g.deployable_uuid,
                        "device_rp_uuid": g.provider_uuid,
                    }
                    for g in c.groups
                ],
            }
            for c in found
        ]
    }
