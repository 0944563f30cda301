"""Who is calling: build a RequestContext from the request, per `ACCORD_AUTH` mode.

noauth trusts X-Project-Id / X-User-Id / X-Roles / X-Service-Roles (as Cyborg's context hook
does behind keystonemiddleware). token looks bearer tokens up in the token file; Nova's
X-Service-Token is looked up the same way and contributes its roles as service roles.
keystone is a seam for later (keystonemiddleware in front, same headers as noauth).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from accord.api.tokens import TokenStore
from accord.config import ConfigError, Settings
from accord.domain.context import ANONYMOUS, RequestContext
from accord.domain.errors import NotAuthenticated


class Authenticator(Protocol):
    def __call__(self, headers: Mapping[str, str]) -> RequestContext: ...


def _roles(value: str | None) -> frozenset[str]:
    return frozenset(r.strip().lower() for r in (value or "").split(",") if r.strip())


def noauth(headers: Mapping[str, str]) -> RequestContext:
    ctx = RequestContext(
        user_id=headers.get("x-user-id") or None,
        project_id=headers.get("x-project-id") or headers.get("x-tenant-id") or None,
        roles=_roles(headers.get("x-roles")),
        service_roles=_roles(headers.get("x-service-roles")),
        host=headers.get("x-accord-host") or None,
    )
    return ctx if ctx.authenticated or ctx.service_roles else ANONYMOUS


class TokenAuthenticator:
    def __init__(self, store: TokenStore) -> None:
        self.store = store

    def _token(self, headers: Mapping[str, str]) -> str | None:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip() or None
        return headers.get("x-auth-token") or None

    def __call__(self, headers: Mapping[str, str]) -> RequestContext:
        token = self._token(headers)
        if token is None:
            raise NotAuthenticated("Authentication required: send a bearer token or X-Auth-Token.")
        ctx = self.store.lookup(token)
        if ctx is None:
            raise NotAuthenticated("The token is not valid.")
        service_token = headers.get("x-service-token")
        if service_token:
            service_ctx = self.store.lookup(service_token)
            if service_ctx is None:
                raise NotAuthenticated("The service token is not valid.")
            ctx = RequestContext(
                user_id=ctx.user_id,
                project_id=ctx.project_id,
                roles=ctx.roles,
                service_roles=service_ctx.roles,
                host=ctx.host,
            )
        return ctx


def make_authenticator(settings: Settings) -> Authenticator:
    if settings.auth == "noauth":
        return noauth
    if settings.auth == "token":
        return TokenAuthenticator(TokenStore(settings.tokens_file))
    raise ConfigError(
        "ACCORD_AUTH=keystone is not available yet; use 'token' (or 'noauth' behind a trusted proxy)."
    )
