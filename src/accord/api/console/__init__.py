"""The operator console at /console: server-rendered pages over the same services and policy as
the API, its CSS and JS bundled in the package (no CDN: control planes are often air-gapped).

One route table for the console, as `api/app.py` has for the API; the pages stay out of
/openapi.json. How a browser authenticates: `api/console/session.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from accord.api.console import actions, pages


class ConsoleRoute(NamedTuple):
    method: str
    path: str
    handler: Callable[..., Any]


CONSOLE_ROUTES: list[ConsoleRoute] = [
    ConsoleRoute("GET", "/console", pages.fleet),
    ConsoleRoute("GET", "/console/devices/{device_uuid}", pages.device),
    ConsoleRoute("POST", "/console/devices/{device_uuid}/enable", actions.enable_device),
    ConsoleRoute("POST", "/console/devices/{device_uuid}/disable", actions.disable_device),
    ConsoleRoute("GET", "/console/arqs", pages.arqs),
    ConsoleRoute("GET", "/console/operations", pages.operations),
    ConsoleRoute("GET", "/console/rollouts", pages.rollouts),
    ConsoleRoute("POST", "/console/rollouts", actions.start_rollout),
    ConsoleRoute("GET", "/console/rollouts/{rollout_uuid}", pages.rollout),
    ConsoleRoute("POST", "/console/rollouts/{rollout_uuid}/pause", actions.pause_rollout),
    ConsoleRoute("POST", "/console/rollouts/{rollout_uuid}/resume", actions.resume_rollout),
    ConsoleRoute("POST", "/console/rollouts/{rollout_uuid}/abort", actions.abort_rollout),
    ConsoleRoute("GET", "/console/images", pages.images),
    ConsoleRoute("POST", "/console/images/{image_uuid}/approve", actions.approve_image),
    ConsoleRoute("POST", "/console/images/{image_uuid}/reject", actions.reject_image),
    ConsoleRoute("GET", "/console/audit", pages.audit),
    ConsoleRoute("GET", "/console/login", actions.login_form),
    ConsoleRoute("POST", "/console/login", actions.login),
    ConsoleRoute("POST", "/console/logout", actions.logout),
]


def install_console(app: FastAPI) -> None:
    for route in CONSOLE_ROUTES:
        app.add_api_route(
            route.path,
            route.handler,
            methods=[route.method],
            include_in_schema=False,
            name=f"console {route.method} {route.path}",
        )
    static = Path(__file__).parent / "static"
    app.mount("/console/static", StaticFiles(directory=static), name="console-static")
