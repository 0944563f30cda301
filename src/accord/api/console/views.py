"""Rendering for the console: the Jinja2 environment over the bundled templates, page responses
with a strict Content-Security-Policy (only this server's own CSS and JS; nothing from a CDN), and
the two ways a page can end in trouble: the login form, or an error page."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, wraps
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from accord import __version__
from accord.api.console.session import LoginRequired, csrf_token, remember_csrf
from accord.api.state import app_state
from accord.domain.errors import AccordError

if TYPE_CHECKING:
    from jinja2 import Environment

CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
NAV = (
    ("fleet", "/console", "Fleet"),
    ("arqs", "/console/arqs", "Requests"),
    ("operations", "/console/operations", "Operations"),
    ("rollouts", "/console/rollouts", "Rollouts"),
    ("images", "/console/images", "Catalog"),
    ("audit", "/console/audit", "Audit"),
)


@cache
def environment() -> Environment:
    # Imported on the first page, not at start-up: a server nobody opens the console on keeps
    # Jinja2 and MarkupSafe (~2 MiB) out of its memory.
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("accord.api.console", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(nav=NAV, version=__version__)
    return env


def page(request: Request, template: str, status: int = 200, **data: Any) -> HTMLResponse:
    state = app_state(request)
    html = (
        environment()
        .get_template(template)
        .render(
            csrf=csrf_token(request),
            notice=request.query_params.get("notice", ""),
            error=request.query_params.get("error", ""),
            auth_mode=state.settings.auth,
            path=request.url.path,
            **data,
        )
    )
    response = HTMLResponse(html, status_code=status)
    secure_headers(response)
    remember_csrf(request, response)
    return response


def secure_headers(response: Response) -> None:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"


def to_login(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/console/login?next={quote(request.url.path)}", status_code=303)


def redirect(path: str, notice: str = "", error: str = "") -> RedirectResponse:
    query = f"?notice={quote(notice)}" if notice else f"?error={quote(error)}" if error else ""
    return RedirectResponse(path + query, status_code=303)


def html_errors(handler: Callable[..., Response]) -> Callable[..., Response]:
    """A page handler whose failures are pages too: the login form when the browser has no valid
    token, otherwise the error with its status (404 for an unknown device, 403 for a reader …)."""

    @wraps(handler)
    def wrapper(request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            return handler(request, *args, **kwargs)
        except LoginRequired:
            return to_login(request)
        except AccordError as exc:
            return page(request, "error.html", status=exc.status, title="Error", message=exc.message)

    return wrapper
