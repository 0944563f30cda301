"""How a browser authenticates to the console, and the CSRF check on its forms.

- `noauth`: the API trusts identity headers a browser cannot send, so the console answers only
  on loopback (the default listen address) and acts as an admin there; from anywhere else it
  refuses, as the server is then open to anyone who can reach it.
- `token` and `keystone`: a login form takes a token (one of `tokens.json`, or a Keystone
  token); it is checked exactly as the API checks `X-Auth-Token`, then kept in an HttpOnly,
  SameSite=Strict cookie scoped to /console. Each page asks the server's policy, as the API does.

Forms carry a CSRF token that must equal the `accord_csrf` cookie (double submit); a cross-site
page can neither read the cookie nor, with SameSite=Strict, send it. An `Origin` header, when the
browser sends one, must be this server's.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response

from accord.api.state import app_state
from accord.domain.context import RequestContext
from accord.domain.errors import Forbidden, NotAuthenticated

TOKEN_COOKIE = "accord_console_token"
CSRF_COOKIE = "accord_csrf"
COOKIE_PATH = "/console"
NOAUTH_CONSOLE = RequestContext(
    user_id="console", project_id="admin", roles=frozenset({"admin", "member", "reader"})
)


class LoginRequired(NotAuthenticated):
    """No (valid) token cookie: the page sends the browser to the login form."""


def is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def console_context(request: Request) -> RequestContext:
    state = app_state(request)
    if state.settings.auth == "noauth":
        if not is_loopback(request):
            raise Forbidden(
                "The console answers only on loopback while ACCORD_AUTH=noauth; "
                "use ACCORD_AUTH=token or keystone to reach it from elsewhere."
            )
        return NOAUTH_CONSOLE
    token = request.cookies.get(TOKEN_COOKIE)
    if not token:
        raise LoginRequired("Log in with a token to use the console.")
    try:
        return state.authenticator({"x-auth-token": token})
    except NotAuthenticated as exc:
        raise LoginRequired(f"{exc.message} Log in again.") from exc


def check_token(request: Request, token: str) -> RequestContext:
    """The context a login token gives, or NotAuthenticated."""
    if not token.strip():
        raise NotAuthenticated("Paste a token.")
    return app_state(request).authenticator({"x-auth-token": token.strip()})


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_token_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        TOKEN_COOKIE, token, httponly=True, samesite="strict", path=COOKIE_PATH, secure=_secure(request)
    )


def clear_token_cookie(response: Response) -> None:
    response.delete_cookie(TOKEN_COOKIE, path=COOKIE_PATH)


def csrf_token(request: Request) -> str:
    """The browser's CSRF token (a new one when it has none yet: `remember_csrf` stores it)."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing:
        return existing
    fresh: str = request.state.__dict__.setdefault("new_csrf", secrets.token_urlsafe(32))
    return fresh


def remember_csrf(request: Request, response: Response) -> None:
    fresh = request.state.__dict__.get("new_csrf")
    if fresh:
        response.set_cookie(
            CSRF_COOKIE, fresh, httponly=True, samesite="strict", path=COOKIE_PATH, secure=_secure(request)
        )


def check_csrf(request: Request, submitted: str | None) -> None:
    origin = request.headers.get("origin")
    if origin and origin != "null":
        parts = urlsplit(origin)
        if (parts.scheme, parts.netloc) != (request.url.scheme, request.url.netloc):
            raise Forbidden(f"A form from {origin} may not act on this console.")
    expected = request.cookies.get(CSRF_COOKIE) or ""
    if not expected or not submitted or not hmac.compare_digest(expected, submitted):
        raise Forbidden("The form's CSRF token is missing or stale; reload the page and try again.")
