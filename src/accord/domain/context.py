"""Who is calling: the request context every domain and policy decision gets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class Authorizer(Protocol):
    """The server's policy (`accord.policy.enforcer.Enforcer`): raises Forbidden to refuse."""

    def check(self, key: str, ctx: RequestContext) -> None: ...


@dataclass(frozen=True)
class RequestContext:
    user_id: str | None = None
    project_id: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    # Roles of a service token sent beside the user's credentials (X-Service-Token), as Nova does.
    service_roles: frozenset[str] = field(default_factory=frozenset)
    # Set for agent tokens: the only host this caller may report for.
    host: str | None = None
    # A system-scoped token's scope ("all"), as keystonemiddleware's OpenStack-System-Scope header.
    system_scope: str | None = None
    # A domain-scoped token's domain.
    domain_id: str | None = None
    # The policy the server that built this context enforces (None: the defaults).
    policy: Authorizer | None = field(default=None, compare=False, repr=False)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def is_service(self) -> bool:
        return "service" in self.roles or "service" in self.service_roles

    @property
    def authenticated(self) -> bool:
        return bool(self.user_id or self.project_id or self.roles or self.host)


ANONYMOUS = RequestContext()
SYSTEM = RequestContext(user_id="accord", roles=frozenset({"admin", "service"}))
