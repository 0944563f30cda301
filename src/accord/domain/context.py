"""Who is calling: the request context every domain and policy decision gets."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestContext:
    user_id: str | None = None
    project_id: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    # Roles of a service token sent beside the user's credentials (X-Service-Token), as Nova does.
    service_roles: frozenset[str] = field(default_factory=frozenset)
    # Set for agent tokens: the only host this caller may report for.
    host: str | None = None

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
