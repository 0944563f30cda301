"""`ACCORD_AUTH=keystone`: Keystone tokens (validated by `accord.keystone`) beside the static
tokens of `tokens.json`, which agents and automation keep using.

As keystonemiddleware: no token or a bad one is a 401 carrying `WWW-Authenticate: Keystone
uri="…"`; a service token (`X-Service-Token`) is validated too, and gives service rights only
with one of `service_token_roles` (without one it is refused when `service_token_roles_required`,
else accepted with no rights); a valid service token lets the user's token be just expired (a
long Nova operation), as keystonemiddleware's `allow_expired`. Keystone unreachable is a 503;
the next request asks again, so Accord recovers by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from accord.api.tokens import TokenStore
from accord.config import KeystoneAuthtoken
from accord.domain.context import RequestContext
from accord.domain.errors import NotAuthenticated, ServiceUnavailable
from accord.keystone.cache import INVALID, TokenCache, TokenInfo, token_key
from accord.keystone.validator import KeystoneUnavailable, KeystoneValidator

log = logging.getLogger(__name__)

UNAUTHENTICATED = "The request you have made requires authentication."


class KeystoneNotAuthenticated(NotAuthenticated):
    def __init__(self, message: str, www_authenticate_uri: str) -> None:
        super().__init__(message)
        self.headers = {"WWW-Authenticate": f'Keystone uri="{www_authenticate_uri}"'}


def _context(info: TokenInfo) -> RequestContext:
    return RequestContext(
        user_id=info.user_id,
        project_id=info.project_id,
        roles=info.roles,
        system_scope=info.system_scope,
        domain_id=info.domain_id,
    )


class KeystoneAuthenticator:
    def __init__(self, store: TokenStore, options: KeystoneAuthtoken, validator: KeystoneValidator) -> None:
        self.store = store
        self.options = options
        self.validator = validator
        self.cache = TokenCache(options.token_cache_time)
        self.service_roles = frozenset(r.lower() for r in options.service_token_roles)
        self.uri = options.www_authenticate_uri or options.auth_url
        if options.memcached_servers:
            log.warning(
                "[keystone_authtoken] memcached_servers is not used: each Accord process keeps "
                "its own cache of validated tokens"
            )

    def _refuse(self, message: str = UNAUTHENTICATED) -> KeystoneNotAuthenticated:
        return KeystoneNotAuthenticated(message, self.uri)

    def _keystone(self, token: str, allow_expired: bool) -> RequestContext:
        key = token_key(token)
        cached = self.cache.get(key)
        if cached == INVALID and not allow_expired:
            raise self._refuse()
        info = cached if isinstance(cached, TokenInfo) else self._ask_keystone(key, token, allow_expired)
        if info.restricted:
            # Application credentials limited by access rules: Accord does not check those rules.
            raise self._refuse("Tokens restricted by access rules are not accepted here.")
        return _context(info)

    def _ask_keystone(self, key: str, token: str, allow_expired: bool) -> TokenInfo:
        try:
            info = self.validator.validate(token, allow_expired)
        except KeystoneUnavailable as exc:
            log.error("cannot validate a token with Keystone: %s", exc)
            raise ServiceUnavailable(
                "The Keystone service is temporarily unavailable; try again shortly."
            ) from exc
        if info is None:
            if not allow_expired:
                self.cache.put(key, INVALID)
            raise self._refuse()
        if not info.expired(self.cache.clock()):
            self.cache.put(key, info)
        return info

    def _identify(self, token: str, allow_expired: bool = False) -> RequestContext:
        static = self.store.lookup(token)
        return static if static is not None else self._keystone(token, allow_expired)

    def __call__(self, headers: Mapping[str, str]) -> RequestContext:
        token = headers.get("x-auth-token")
        if not token:
            auth = headers.get("authorization", "")
            token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not token:
            raise self._refuse()
        service_roles: frozenset[str] = frozenset()
        allow_expired = False
        service_token = headers.get("x-service-token")
        if service_token:
            service = self._identify(service_token)
            if service.roles & self.service_roles:
                service_roles = service.roles | {"service"}
                allow_expired = True
            elif self.options.service_token_roles_required:
                raise self._refuse("The service token does not carry a service role.")
        ctx = self._identify(token, allow_expired)
        return ctx if not service_roles else _with_service_roles(ctx, service_roles)


def _with_service_roles(ctx: RequestContext, roles: frozenset[str]) -> RequestContext:
    return RequestContext(
        user_id=ctx.user_id,
        project_id=ctx.project_id,
        roles=ctx.roles,
        service_roles=roles,
        host=ctx.host,
        system_scope=ctx.system_scope,
        domain_id=ctx.domain_id,
    )


def keystone_authenticator(store: TokenStore, options: KeystoneAuthtoken) -> KeystoneAuthenticator:
    return KeystoneAuthenticator(store, options, KeystoneValidator(options))
