"""The check-string grammar: what operators write in policy files evaluates as oslo.policy would."""

from __future__ import annotations

from typing import Any

import pytest

from accord.policy.checks import Check, PolicyError, parse

MEMBER = {"roles": ["member", "reader"], "project_id": "p1", "user_id": "u1", "is_admin": False}
TARGET = {"project_id": "p1", "user_id": "u1"}


def allows(text: str, creds: dict[str, Any] = MEMBER, target: dict[str, Any] = TARGET, **rules: str) -> bool:
    compiled: dict[str, Check] = {name.replace("_", "-"): parse(t) for name, t in rules.items()}
    return parse(text)(creds, target, compiled.get)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("@", True),
        ("!", False),
        ("role:member", True),
        ("role:MEMBER", True),  # roles compare case-insensitively
        ("role:admin", False),
        ("project_id:%(project_id)s", True),
        ("project_id:p2", False),
        ("user_id:%(user_id)s and role:reader", True),
        ("role:admin or role:member", True),
        ("role:admin and role:member", False),
        ("not role:admin", True),
        ("not not role:admin", False),
        ("is_admin:True", False),
        ("is_admin:False", True),
        # and binds tighter than or: admin or (member and !) is false, (admin or member) and ! too.
        ("role:admin or role:member and !", False),
        ("role:member or role:admin and !", True),
        ("(role:member or role:admin) and !", False),
        ("((role:member))", True),
        ("role:admin or (project_id:%(project_id)s and not role:reader)", False),
        ("'p1':%(project_id)s", True),  # a literal on the left compares with the target
        ("'p2':%(project_id)s", False),
        ("project_id:%(missing)s", False),  # a target key that does not exist never matches
    ],
)
def test_check_strings_evaluate_as_oslo_policy_does(text: str, expected: bool) -> None:
    assert allows(text) is expected


def test_absent_credentials_never_match_even_against_none() -> None:
    nobody = {"roles": ["admin"], "project_id": None}
    assert allows("project_id:%(project_id)s", nobody, {"project_id": None}) is False
    assert allows("role:admin", nobody, {"project_id": None}) is True


def test_dotted_fields_and_lists() -> None:
    creds = {"roles": [], "token": {"methods": ["password", "totp"]}}
    assert allows("token.methods:totp", creds) is True
    assert allows("token.methods:saml2", creds) is False
    assert allows("token.missing:x", creds) is False


def test_rule_references_resolve_and_missing_rules_fail() -> None:
    assert allows("rule:readers", readers="role:reader") is True
    assert allows("rule:admins or rule:readers", admins="role:admin", readers="role:reader") is True
    assert allows("rule:nowhere") is False
    # A loop is stopped, and fails, instead of recursing forever.
    assert allows("rule:a", a="rule:a") is False


def test_references_are_reported() -> None:
    assert parse("rule:a or (rule:b and not rule:c) or role:x").references() == {"a", "b", "c"}


@pytest.mark.parametrize(
    "text",
    [
        "role:admin or",
        "(role:admin",
        "role:admin)",
        "and role:admin",
        "admin",
        "role:",
        ":x",
        "http:http://x",
    ],
)
def test_broken_check_strings_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(PolicyError):
        parse(text)
