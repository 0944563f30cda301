"""Who is calling: build a RequestContext from the request, per `ACCORD_AUTH` mode.

noauth trusts X-Project-Id / X-User-Id / X-Roles / X-Service-Roles and the token's scope in
OpenStack-System-Scope / X-Domain-Id (the headers keystonemiddleware sets for Cyborg's context
hook). token looks bearer tokens up in the token file; Nova's X-Service-Token is looked up the
same way and contributes its roles as service roles. keystone validates Keystone tokens
(`accord.api.keystone_auth`) beside the token file's. Every context carries the server's policy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from accord.api.tokens import TokenStore
from accord.config import ConfigError, Settings
from accord.domain.context import ANONYMOUS, RequestContext
from accord.domain.errors import NotAuthenticated
from accord.policy.checks import PolicyError
from accord.policy.enforcer import Enforcer


class Authenticator(Protocol):
    def __call__(self, headers: Mapping[str, str]) -> RequestContext: ...


def _roles(value: str | None) -> frozenset[str]:
    return frozenset(r.strip().lower() for r in (value or "").split(",") if r.strip())


def noauth(headers: Mapping[str, str], policy: Enforcer | None = None) -> RequestContext:
    ctx = RequestContext(
        user_id=headers.get("x-user-id") or None,
        project_id=headers.get("x-project-id") or headers.get("x-tenant-id") or None,
        roles=_roles(headers.get("x-roles")),
        service_roles=_roles(headers.get("x-service-roles")),
        host=headers.get("x-accord-host") or None,
        system_scope=headers.get("openstack-system-scope") or None,
        domain_id=headers.get("x-domain-id") or None,
        policy=policy,
    )
    if ctx.authenticated or ctx.service_roles:
        return ctx
    return ANONYMOUS if policy is None else replace(ANONYMOUS, policy=policy)


# The headers noauth reads, as the server delivers them (lower-case names, raw values).
NOAUTH_HEADERS = (
    b"x-user-id",
    b"x-project-id",
    b"x-tenant-id",
    b"x-roles",
    b"x-service-roles",
    b"x-accord-host",
    b"openstack-system-scope",
    b"x-domain-id",
)


class NoAuthenticator:
    """noauth with the server's policy; contexts remembered per set of identity headers.

    A context is immutable and a function of those headers alone, and a client sends the same
    ones on every request, so `from_raw` finds it with one scan of the raw header list and one
    dictionary look-up instead of decoding headers and building a context per request.
    """

    def __init__(self, policy: Enforcer | None) -> None:
        self.policy = policy
        self._known: dict[tuple[bytes | None, ...], RequestContext] = {}

    def __call__(self, headers: Mapping[str, str]) -> RequestContext:
        return noauth(headers, self.policy)

    def from_raw(self, raw_headers: Iterable[tuple[bytes, bytes]]) -> RequestContext:
        found: dict[bytes, bytes] = {}
        for name, value in raw_headers:
            if name in _NOAUTH_NAMES and name not in found:  # the first one counts, as in Headers
                found[name] = value
        key = tuple(found.get(name) for name in NOAUTH_HEADERS)
        ctx = self._known.get(key)
        if ctx is None:
            ctx = noauth({k.decode("latin-1"): v.decode("latin-1") for k, v in found.items()}, self.policy)
            if len(self._known) >= 1024:
                self._known.clear()
            self._known[key] = ctx
        return ctx


_NOAUTH_NAMES = frozenset(NOAUTH_HEADERS)


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


def make_policy(settings: Settings) -> Enforcer:
    try:
        return Enforcer(Path(settings.policy_file) if settings.policy_file else None)
    except PolicyError as exc:
        raise ConfigError(str(exc)) from exc


def _identifier(settings: Settings) -> Callable[[Mapping[str, str]], RequestContext]:
    if settings.auth == "noauth":
        return noauth
    if settings.auth == "token":
        return TokenAuthenticator(TokenStore(settings.tokens_file))
    # Imported only here: keystoneauth1 and its requests stack stay out of other modes' servers.
    from accord.api.keystone_auth import keystone_authenticator

    return keystone_authenticator(TokenStore(settings.tokens_file), settings.keystone_authtoken)


def make_authenticator(settings: Settings) -> Authenticator:
    """The mode's identification, with the server's policy attached to every context."""
    if settings.auth not in ("noauth", "token", "keystone"):
        raise ConfigError(f"unknown ACCORD_AUTH {settings.auth!r}")
    policy = make_policy(settings)
    if settings.auth == "noauth":
        # The context is built with the policy in place: no second dataclass per request.
        return NoAuthenticator(policy)
    identify = _identifier(settings)

    def authenticate(headers: Mapping[str, str]) -> RequestContext:
        return replace(identify(headers), policy=policy)

    return authenticate
