"""Authorization for handlers: `authorize(ctx, key)` asks the server's policy
(`accord.policy`: Cyborg's rule names and defaults, scope enforced, operator overrides).

Two gates stay outside the policy file, as in Cyborg: binds, unbinds and instance-wide deletes
need the `service` role (the caller's own or a service token's), and an agent token reports only
for its own host. Project isolation of ARQs is done in the queries, not here.
"""

from __future__ import annotations

from accord.domain.context import RequestContext
from accord.domain.errors import Forbidden, NotAuthenticated
from accord.policy.defaults import BY_KEY
from accord.policy.enforcer import default_enforcer, effective_roles

__all__ = ["authorize", "effective_roles", "require_host", "require_service"]


def authorize(ctx: RequestContext, rule: str) -> None:
    if not ctx.authenticated and not ctx.service_roles:
        raise NotAuthenticated(f"Authentication required for {BY_KEY[rule].name}.")
    (ctx.policy or default_enforcer()).check(rule, ctx)


def require_service(ctx: RequestContext, action: str) -> None:
    """Bind, unbind and instance-wide delete change what a VM holds: only a service may."""
    if not ctx.is_service:
        raise Forbidden(
            f"{action} requires a service token (the 'service' role, or an X-Service-Token as Nova sends it)."
        )


def require_host(ctx: RequestContext, hostname: str) -> None:
    """An agent token may report only for its own host; admins may report for any."""
    if ctx.is_admin:
        return
    if ctx.host != hostname:
        raise Forbidden(f"This token may not report for host {hostname!r}.")
