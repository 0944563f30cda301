"""What every handler can reach: the application's services, plus how callers authenticate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from accord.api.auth import Authenticator
from accord.api.microversions import MIN_VERSION, Version
from accord.domain.context import RequestContext
from accord.services.app import Services


@dataclass
class AppState(Services):
    authenticator: Authenticator = field(kw_only=True)


def app_state(request: Request) -> AppState:
    return cast(AppState, request.app.state.accord)


async def context(request: Request) -> RequestContext:
    # Dependencies run on the event loop (a sync one would cost a worker-thread hop per request);
    # only Keystone validation can wait on the network, so only that mode goes to a thread.
    state = app_state(request)
    if state.settings.auth == "keystone":
        return await run_in_threadpool(state.authenticator, request.headers)
    return state.authenticator(request.headers)


async def microversion(request: Request) -> Version:
    return cast(Version, request.scope.get("state", {}).get("microversion", MIN_VERSION))


def base_url(request: Request) -> str:
    configured = app_state(request).settings.public_endpoint
    if configured:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/")
