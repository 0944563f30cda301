"""Access rules as data: Cyborg's new defaults (contract §1.8), plus Accord's own resources.

Roles imply lesser ones as Keystone's default implied roles do: admin ⊃ manager ⊃ member ⊃
reader. Project isolation of ARQs is done in the query, not here.
"""

from __future__ import annotations

from collections.abc import Callable

from accord.domain.context import RequestContext
from accord.domain.errors import Forbidden, NotAuthenticated

IMPLIED = {
    "admin": {"admin", "manager", "member", "reader"},
    "manager": {"manager", "member", "reader"},
    "member": {"member", "reader"},
    "reader": {"reader"},
}


def effective_roles(ctx: RequestContext) -> set[str]:
    roles = set(ctx.roles)
    for role in ctx.roles:
        roles |= IMPLIED.get(role, set())
    return roles


Check = Callable[[RequestContext], bool]


def admin(ctx: RequestContext) -> bool:
    return ctx.is_admin


def project_role(role: str) -> Check:
    def check(ctx: RequestContext) -> bool:
        return ctx.project_id is not None and role in effective_roles(ctx)

    return check


def service(ctx: RequestContext) -> bool:
    return ctx.is_service


def any_of(*checks: Check) -> Check:
    return lambda ctx: any(c(ctx) for c in checks)


def agent(ctx: RequestContext) -> bool:
    return ctx.host is not None


project_reader_or_admin = any_of(project_role("reader"), admin)
project_member_or_service = any_of(project_role("member"), service, admin)
project_manager_or_admin = any_of(project_role("manager"), admin)

RULES: dict[str, Check] = {
    "accelerator_request:get_all": project_reader_or_admin,
    "accelerator_request:get_one": project_reader_or_admin,
    "accelerator_request:create": project_member_or_service,
    "accelerator_request:update": project_member_or_service,
    "accelerator_request:delete": project_member_or_service,
    "device_profile:get_all": project_reader_or_admin,
    "device_profile:get_one": project_reader_or_admin,
    "device_profile:create": admin,
    "device_profile:delete": admin,
    "device:get_all": project_manager_or_admin,
    "device:get_one": project_manager_or_admin,
    "device:disable": admin,
    "device:enable": admin,
    "device:firmware": admin,
    "deployable:get_all": project_manager_or_admin,
    "deployable:get_one": project_manager_or_admin,
    "deployable:program": admin,
    "attribute:get_all": project_manager_or_admin,
    "attribute:get_one": project_manager_or_admin,
    "attribute:create": admin,
    "attribute:delete": admin,
    "host:get": admin,
    "operation:get": admin,
    "allocation_candidate:get": any_of(admin, service),
    "quota:get": project_reader_or_admin,
    "quota:set": admin,
    "host:report": any_of(agent, admin),
    "image:get": admin,
    "image:create": admin,
    "image:upload": admin,
    "image:approve": admin,
    "image:delete": admin,
    # Agents fetch the images they are told to program; nobody else but admins reads bytes.
    "image:download": any_of(agent, admin),
    "trusted_key:get": admin,
    "trusted_key:create": admin,
    "trusted_key:delete": admin,
    "audit_event:get": admin,
}


def authorize(ctx: RequestContext, rule: str) -> None:
    if not ctx.authenticated and not ctx.service_roles:
        raise NotAuthenticated(f"Authentication required for cyborg:{rule}.")
    if not RULES[rule](ctx):
        raise Forbidden(f"Access was denied to the following resource: cyborg:{rule}")


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
