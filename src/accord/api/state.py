"""What every handler can reach: the application's services, plus how callers authenticate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from accord.api.auth import Authenticator, NoAuthenticator
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
    authenticator = state.authenticator
    if isinstance(authenticator, NoAuthenticator):
        return authenticator.from_raw(request.scope["headers"])
    if state.settings.auth == "keystone":
        return await run_in_threadpool(authenticator, request.headers)
    return authenticator(request.headers)


async def microversion(request: Request) -> Version:
    return cast(Version, request.scope.get("state", {}).get("microversion", MIN_VERSION))


# Base URLs by what Starlette builds them from; a client sends the same Host on every request.
_BASE_URLS: dict[tuple[Any, ...], str] = {}


def base_url(request: Request) -> str:
    configured = app_state(request).settings.public_endpoint
    if configured:
        return configured.rstrip("/")
    scope = request.scope
    host = next((value for name, value in scope["headers"] if name == b"host"), None)
    root = scope.get("app_root_path", scope.get("root_path", ""))
    server = scope.get("server")
    key = (scope.get("scheme", "http"), tuple(server) if server else None, root, host)
    known = _BASE_URLS.get(key)
    if known is None:
        known = str(request.base_url).rstrip("/")
        if len(_BASE_URLS) >= 256:
            _BASE_URLS.clear()
        _BASE_URLS[key] = known
    return known
