"""Cyborg's defaults with scope enforced, and operators' overrides from a policy file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from accord.domain.context import RequestContext
from accord.domain.errors import Forbidden
from accord.policy.checks import PolicyError
from accord.policy.defaults import BY_KEY, DEFAULTS
from accord.policy.enforcer import Enforcer


def ctx(roles: str, project: str | None = "p1", **kw: object) -> RequestContext:
    return RequestContext(user_id="u1", project_id=project, roles=frozenset(roles.split(",")), **kw)  # type: ignore[arg-type]


READER = ctx("reader")
MEMBER = ctx("member")
MANAGER = ctx("manager")
ADMIN = ctx("admin")
SERVICE = ctx("service", project="service")
SYSTEM_ADMIN = ctx("admin", project=None, system_scope="all")
DOMAIN_ADMIN = ctx("admin", project=None, domain_id="d1")
AGENT = RequestContext(user_id="agent", roles=frozenset({"agent"}), host="host-a")

# (rule key, personas allowed); every other persona of PERSONAS is refused.
PERSONAS = {
    "reader": READER,
    "member": MEMBER,
    "manager": MANAGER,
    "admin": ADMIN,
    "service": SERVICE,
    "system-admin": SYSTEM_ADMIN,
    "domain-admin": DOMAIN_ADMIN,
    "agent": AGENT,
}
EXPECTED = {
    "accelerator_request:get_all": {"reader", "member", "manager", "admin"},
    "accelerator_request:create": {"member", "manager", "admin", "service"},
    "accelerator_request:update": {"member", "manager", "admin", "service"},
    "device_profile:get_one": {"reader", "member", "manager", "admin"},
    "device_profile:create": {"admin"},
    "device:get_all": {"manager", "admin"},
    "device:disable": {"admin"},
    "deployable:program": {"admin"},
    "attribute:get_all": {"manager", "admin"},
    "allocation_candidate:get": {"admin", "service"},
    "host:report": {"admin", "agent"},
    "image:download": {"admin", "agent"},
    "audit_event:get": {"admin"},
}


def allowed(enforcer: Enforcer, key: str, who: RequestContext) -> bool:
    try:
        enforcer.check(key, who)
    except Forbidden:
        return False
    return True


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_defaults_follow_cyborg_personas(key: str) -> None:
    enforcer = Enforcer()
    assert {name for name, who in PERSONAS.items() if allowed(enforcer, key, who)} == EXPECTED[key]


def test_system_and_domain_scoped_admins_are_refused_by_scope_first() -> None:
    enforcer = Enforcer()
    with pytest.raises(
        Forbidden, match="requires a scope of project; the request was made with system scope"
    ):
        enforcer.check("device:get_all", SYSTEM_ADMIN)
    with pytest.raises(Forbidden, match="made with domain scope"):
        enforcer.check("device_profile:get_all", DOMAIN_ADMIN)


def test_every_api_rule_is_project_scoped_and_named_as_cyborg_or_accord() -> None:
    for rule in DEFAULTS:
        if rule.key is None:
            assert rule.scope_types == ()
            continue
        assert rule.scope_types == ("project",)
        assert rule.name.startswith(("cyborg:", "accord:"))
    assert BY_KEY["accelerator_request:create"].name == "cyborg:arq:create"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_policy_file_overrides_rules_and_base_rules(tmp_path: Path) -> None:
    policy = write(
        tmp_path / "policy.yaml",
        '"cyborg:device:get_all": "rule:project_reader_or_admin"\n'
        'ops: "role:ops"\n'
        'admin_api: "role:admin or rule:ops"\n',
    )
    enforcer = Enforcer(policy)
    assert allowed(enforcer, "device:get_all", READER)
    ops = ctx("ops")
    # admin_api now also means the ops role, for every rule built on it.
    assert allowed(enforcer, "device:disable", ops)
    assert allowed(enforcer, "device_profile:create", ops)
    assert not allowed(enforcer, "device:disable", MEMBER)
    sources = {r.name: r.source for r in enforcer.rules()}
    assert sources["cyborg:device:get_all"] == "policy file"
    assert sources["ops"] == "custom"
    assert sources["cyborg:arq:create"] == "default"


def test_scope_types_cannot_be_overridden(tmp_path: Path) -> None:
    enforcer = Enforcer(write(tmp_path / "policy.yaml", '"cyborg:device:get_all": "@"\n'))
    assert allowed(enforcer, "device:get_all", READER)
    assert not allowed(enforcer, "device:get_all", SYSTEM_ADMIN)


def test_a_rule_can_be_closed_for_everyone(tmp_path: Path) -> None:
    enforcer = Enforcer(write(tmp_path / "policy.yaml", '"cyborg:arq:create": "!"\n'))
    assert not allowed(enforcer, "accelerator_request:create", ADMIN)
    assert allowed(enforcer, "accelerator_request:get_all", ADMIN)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"cyborg:arq:create": "rule:nowhere"\n', "undefined rule"),
        ('a: "rule:b"\nb: "rule:a"\n', "loop"),
        ('"cyborg:arq:create": "role:admin or"\n', "cyborg:arq:create"),
        ('"cyborg:arq:create": 3\n', "check string"),
        ("- just a list\n", "must map"),
        ('"cyborg:arq:create": [unclosed\n', "not valid YAML"),
    ],
)
def test_a_broken_policy_file_is_refused_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        Enforcer(write(tmp_path / "policy.yaml", text))


def test_a_missing_policy_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        Enforcer(tmp_path / "absent.yaml")


def test_json_policy_files_work_too(tmp_path: Path) -> None:
    enforcer = Enforcer(write(tmp_path / "policy.json", '{"cyborg:device:get_all": "role:reader"}'))
    assert allowed(enforcer, "device:get_all", READER)


def test_the_file_is_read_again_when_it_changes_and_a_broken_edit_keeps_the_rules(tmp_path: Path) -> None:
    policy = write(tmp_path / "policy.yaml", '"cyborg:device:get_all": "role:reader"\n')
    enforcer = Enforcer(policy)
    assert allowed(enforcer, "device:get_all", READER)

    write(policy, '"cyborg:device:get_all": "role:admin"\n')
    os.utime(policy, (1, 1))  # a different mtime even within the filesystem's resolution
    assert not allowed(enforcer, "device:get_all", READER)
    assert allowed(enforcer, "device:get_all", ADMIN)

    write(policy, '"cyborg:device:get_all": "role:admin or"\n')
    os.utime(policy, (2, 2))
    assert allowed(enforcer, "device:get_all", ADMIN)  # previous rules stay
    assert not allowed(enforcer, "device:get_all", READER)
