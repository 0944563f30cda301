"""The default rules: Cyborg's names, check strings and scope types for its API, Accord's own for
the rest (names under `accord:`), and the base rules both are built from.

Facts from Cyborg's `cyborg/policies/*.py` (2026.2, persona defaults with `enforce_new_defaults`):
base rules `admin_api` = `role:admin`, `project_{reader,member,manager}_api` = that role and
`project_id:%(project_id)s`, `service_api` = `role:service`; every API rule has
`scope_types = ['project']`, so a system- or domain-scoped token is refused everywhere. The
target of every check is the caller's own project: owner checks pass for any project-scoped
caller, and isolation between projects is done by the queries.

Base rules have no scope types; they are building blocks for `rule:` references. Handlers ask
for rules by Accord's short key (`device:get_all`); `by_key` maps it to the public name.
"""

from __future__ import annotations

from dataclasses import dataclass

PROJECT = ("project",)


@dataclass(frozen=True)
class RuleDefault:
    name: str
    check_str: str
    description: str
    scope_types: tuple[str, ...] = ()
    operations: tuple[str, ...] = ()
    key: str | None = None  # what handlers ask for; None for base rules


BASE_RULES = [
    RuleDefault("admin_api", "role:admin", "Cloud administrator."),
    RuleDefault("project_reader_api", "role:reader and project_id:%(project_id)s", "Reader of the project."),
    RuleDefault("project_member_api", "role:member and project_id:%(project_id)s", "Member of the project."),
    RuleDefault(
        "project_manager_api", "role:manager and project_id:%(project_id)s", "Manager of the project."
    ),
    RuleDefault("service_api", "role:service", "An OpenStack service (Nova)."),
    RuleDefault(
        "project_reader_or_admin", "rule:project_reader_api or rule:admin_api", "Project reader or admin."
    ),
    RuleDefault(
        "project_member_or_service",
        "rule:project_member_api or rule:service_api",
        "Project member or service.",
    ),
    RuleDefault(
        "project_manager_or_admin", "rule:project_manager_api or rule:admin_api", "Project manager or admin."
    ),
    # Accord's own building blocks.
    RuleDefault("agent_api", "is_agent:True", "A host agent's token (bound to one host)."),
    RuleDefault("admin_or_service", "rule:admin_api or rule:service_api", "Admin or service."),
    RuleDefault("agent_or_admin", "rule:agent_api or rule:admin_api", "A host agent or admin."),
]


def _api(key: str, name: str, check_str: str, description: str, *operations: str) -> RuleDefault:
    return RuleDefault(name, check_str, description, PROJECT, operations, key)


READER = "rule:project_reader_or_admin"
MEMBER = "rule:project_member_or_service"
MANAGER = "rule:project_manager_or_admin"
ADMIN = "rule:admin_api"

CYBORG_RULES = [
    _api(
        "accelerator_request:get_all",
        "cyborg:arq:get_all",
        READER,
        "List ARQs",
        "GET /v2/accelerator_requests",
    ),
    _api(
        "accelerator_request:get_one",
        "cyborg:arq:get_one",
        READER,
        "Show an ARQ",
        "GET /v2/accelerator_requests/{uuid}",
    ),
    _api(
        "accelerator_request:create",
        "cyborg:arq:create",
        MEMBER,
        "Create ARQs",
        "POST /v2/accelerator_requests",
    ),
    _api(
        "accelerator_request:delete",
        "cyborg:arq:delete",
        MEMBER,
        "Delete ARQs",
        "DELETE /v2/accelerator_requests",
        "DELETE /v2/accelerator_requests/{uuid}",
    ),
    _api(
        "accelerator_request:update",
        "cyborg:arq:update",
        MEMBER,
        "Bind or unbind ARQs",
        "PATCH /v2/accelerator_requests",
        "PATCH /v2/accelerator_requests/{uuid}",
    ),
    _api(
        "device_profile:get_all",
        "cyborg:device_profile:get_all",
        READER,
        "List device profiles",
        "GET /v2/device_profiles",
    ),
    _api(
        "device_profile:get_one",
        "cyborg:device_profile:get_one",
        READER,
        "Show a device profile",
        "GET /v2/device_profiles/{uuid}",
    ),
    _api(
        "device_profile:create",
        "cyborg:device_profile:create",
        ADMIN,
        "Create device profiles",
        "POST /v2/device_profiles",
    ),
    _api(
        "device_profile:delete",
        "cyborg:device_profile:delete",
        ADMIN,
        "Delete device profiles",
        "DELETE /v2/device_profiles/{uuid}",
        "DELETE /v2/device_profiles?value={names}",
    ),
    _api("device:get_all", "cyborg:device:get_all", MANAGER, "List devices", "GET /v2/devices"),
    _api(
        "device:get_one",
        "cyborg:device:get_one",
        MANAGER,
        "Show a device and its health",
        "GET /v2/devices/{uuid}",
        "GET /v2/devices/{uuid}/health",
    ),
    _api(
        "device:disable",
        "cyborg:device:disable",
        ADMIN,
        "Disable a device",
        "POST /v2/devices/{uuid}/disable",
    ),
    _api("device:enable", "cyborg:device:enable", ADMIN, "Enable a device", "POST /v2/devices/{uuid}/enable"),
    _api(
        "deployable:get_all", "cyborg:deployable:get_all", MANAGER, "List deployables", "GET /v2/deployables"
    ),
    _api(
        "deployable:get_one",
        "cyborg:deployable:get_one",
        MANAGER,
        "Show a deployable",
        "GET /v2/deployables/{uuid}",
    ),
    _api(
        "deployable:program",
        "cyborg:deployable:program",
        ADMIN,
        "Program a deployable",
        "PATCH /v2/deployables/{uuid}/program",
    ),
    _api("attribute:get_all", "cyborg:attribute:get_all", MANAGER, "List attributes", "GET /v2/attributes"),
    _api(
        "attribute:get_one",
        "cyborg:attribute:get_one",
        MANAGER,
        "Show an attribute",
        "GET /v2/attributes/{uuid}",
    ),
    _api("attribute:create", "cyborg:attribute:create", ADMIN, "Create attributes", "POST /v2/attributes"),
    _api(
        "attribute:delete",
        "cyborg:attribute:delete",
        ADMIN,
        "Delete attributes",
        "DELETE /v2/attributes/{uuid}",
    ),
]

ACCORD_RULES = [
    _api(
        "device:firmware",
        "accord:device:firmware",
        ADMIN,
        "Flash firmware onto a drained device",
        "POST /v2/devices/{uuid}/firmware",
    ),
    _api(
        "firmware_rollout:get",
        "accord:firmware_rollout:get",
        ADMIN,
        "List and show firmware rollouts",
        "GET /v2/firmware_rollouts[/{uuid}]",
    ),
    _api(
        "firmware_rollout:create",
        "accord:firmware_rollout:create",
        ADMIN,
        "Start a firmware rollout",
        "POST /v2/firmware_rollouts",
    ),
    _api(
        "firmware_rollout:update",
        "accord:firmware_rollout:update",
        ADMIN,
        "Pause, resume or abort a firmware rollout",
        "POST /v2/firmware_rollouts/{uuid}/pause|resume|abort",
    ),
    _api(
        "device:set_vgpu_type",
        "accord:device:set_vgpu_type",
        ADMIN,
        "Pin the vGPU type (partition type) a GPU is mirrored with into Placement and DRA",
        "PUT /v2/devices/{uuid}/vgpu_type",
    ),
    _api(
        "dra:get",
        "accord:dra:get",
        ADMIN,
        "Export hosts as Kubernetes DRA ResourceSlices and DeviceClasses",
        "GET /v2/hosts/{name}/resourceslices",
        "GET /v2/deviceclasses",
    ),
    _api("host:get", "accord:host:get", ADMIN, "List and show hosts", "GET /v2/hosts[/{name}]"),
    _api(
        "host:report",
        "accord:host:report",
        "rule:agent_or_admin",
        "Agent reports, heartbeats, operation claims and results (an agent only for its own host)",
        "POST /v2/hosts/{name}/…",
    ),
    _api(
        "host:update",
        "accord:host:update",
        ADMIN,
        "Enrol a host (an Ironic node as bare metal)",
        "PUT /v2/hosts/{name}",
    ),
    _api("operation:get", "accord:operation:get", ADMIN, "List and show operations", "GET /v2/operations"),
    _api(
        "allocation_candidate:get",
        "accord:allocation_candidate:get",
        "rule:admin_or_service",
        "Ask Accord's scheduler for candidates",
        "GET /v2/allocation_candidates",
    ),
    _api("quota:get", "accord:quota:get", READER, "Show quotas (a project its own)", "GET /v2/quotas"),
    _api(
        "quota:set", "accord:quota:set", ADMIN, "Set or remove quotas", "PUT|DELETE /v2/quotas/{project}/{rc}"
    ),
    _api("image:get", "accord:image:get", ADMIN, "List and show images", "GET /v2/images[/{uuid}]"),
    _api("image:create", "accord:image:create", ADMIN, "Create an image record", "POST /v2/images"),
    _api(
        "image:upload", "accord:image:upload", ADMIN, "Upload an image's bytes", "PUT /v2/images/{uuid}/file"
    ),
    _api(
        "image:approve",
        "accord:image:approve",
        ADMIN,
        "Approve or reject an image",
        "POST /v2/images/{uuid}/approve",
        "POST /v2/images/{uuid}/reject",
    ),
    _api("image:delete", "accord:image:delete", ADMIN, "Delete an image", "DELETE /v2/images/{uuid}"),
    _api(
        "image:download",
        "accord:image:download",
        "rule:agent_or_admin",
        "Download an image's bytes (agents fetch what they program)",
        "GET /v2/images/{uuid}/file",
    ),
    _api(
        "trusted_key:get",
        "accord:trusted_key:get",
        ADMIN,
        "List and show trusted keys",
        "GET /v2/trusted_keys",
    ),
    _api(
        "trusted_key:create", "accord:trusted_key:create", ADMIN, "Add a trusted key", "POST /v2/trusted_keys"
    ),
    _api(
        "trusted_key:delete",
        "accord:trusted_key:delete",
        ADMIN,
        "Delete a trusted key",
        "DELETE /v2/trusted_keys/{id}",
    ),
    _api("audit_event:get", "accord:audit_event:get", ADMIN, "Read the audit trail", "GET /v2/audit_events"),
]

DEFAULTS: list[RuleDefault] = [*BASE_RULES, *CYBORG_RULES, *ACCORD_RULES]
BY_NAME = {rule.name: rule for rule in DEFAULTS}
BY_KEY = {rule.key: rule for rule in DEFAULTS if rule.key}
