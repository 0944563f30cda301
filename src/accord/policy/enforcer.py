"""Decide: the defaults, overridden by an oslo.policy-style YAML file, with scope enforced.

As Cyborg with `[oslo_policy] enforce_scope = true, enforce_new_defaults = true`: a rule's scope
types cannot be overridden; a system-scoped token (`OpenStack-System-Scope: all`) or a
domain-scoped one is refused by every `project` rule before its check string is looked at;
deprecated rules are never ORed in.

The policy file maps rule names to check strings (`"cyborg:arq:create": "rule:admin_api"`);
names that are not defaults define extra rules for `rule:` references. Like oslo.policy the
file is read again when it changes; a broken edit is logged and the previous rules stay.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accord.domain.context import RequestContext
from accord.domain.errors import Forbidden
from accord.policy.checks import Check, PolicyError, parse
from accord.policy.defaults import BY_KEY, BY_NAME, DEFAULTS, RuleDefault

log = logging.getLogger(__name__)

IMPLIED = {
    "admin": {"admin", "manager", "member", "reader"},
    "manager": {"manager", "member", "reader"},
    "member": {"member", "reader"},
    "reader": {"reader"},
}


def effective_roles(ctx: RequestContext) -> set[str]:
    """Roles with Keystone's default implications applied (admin ⊃ manager ⊃ member ⊃ reader),
    for callers whose roles did not come from a Keystone token (noauth headers, token file)."""
    roles = set(ctx.roles)
    for role in ctx.roles:
        roles |= IMPLIED.get(role, set())
    return roles


def token_scope(ctx: RequestContext) -> str:
    """oslo.policy's reading of a token's scope: system, else domain, else project."""
    if ctx.system_scope:
        return "system"
    if ctx.domain_id:
        return "domain"
    return "project"


def credentials(ctx: RequestContext) -> dict[str, Any]:
    return {
        "user_id": ctx.user_id,
        "project_id": ctx.project_id,
        "domain_id": ctx.domain_id,
        "system_scope": ctx.system_scope,
        "roles": sorted(effective_roles(ctx)),
        "service_roles": sorted(ctx.service_roles),
        "is_admin": "admin" in ctx.roles,
        "is_agent": ctx.host is not None,
        "host": ctx.host,
    }


def target(ctx: RequestContext) -> dict[str, Any]:
    """Cyborg checks against the caller's own context (isolation is in the queries)."""
    return {"project_id": ctx.project_id, "user_id": ctx.user_id, "host": ctx.host}


@dataclass(frozen=True)
class EffectiveRule:
    name: str
    check_str: str
    scope_types: tuple[str, ...]
    description: str
    operations: tuple[str, ...]
    source: str  # "default", "policy file", or "custom" (defined only in the file)


def load_policy_file(path: Path) -> dict[str, str]:
    """The overrides in a YAML (or JSON) policy file; PolicyError if it cannot be used."""
    import yaml  # only servers given a policy file pay for it

    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PolicyError(f"policy file {path} must map rule names to check strings")
    overrides: dict[str, str] = {}
    for name, value in data.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise PolicyError(f"policy file {path}: {name!r} must map to a check string, got {value!r}")
        overrides[name] = value
    return overrides


def compile_rules(overrides: dict[str, str]) -> tuple[dict[str, Check], list[EffectiveRule]]:
    """Defaults with overrides applied; every check string parsed and every `rule:` resolved."""
    texts = {rule.name: rule.check_str for rule in DEFAULTS}
    texts.update(overrides)
    compiled: dict[str, Check] = {}
    for name, text in texts.items():
        try:
            compiled[name] = parse(text)
        except PolicyError as exc:
            raise PolicyError(f"rule {name!r}: {exc}") from exc
    for name, check in compiled.items():
        missing = check.references() - compiled.keys()
        if missing:
            raise PolicyError(f"rule {name!r} refers to undefined rule(s): {', '.join(sorted(missing))}")
    _refuse_loops(compiled)
    for name in overrides.keys() - BY_NAME.keys():
        if ":" in name:
            log.warning("policy file defines %r, which is no rule of Accord's (a typo?)", name)
    listing = [_effective(rule, texts[rule.name], rule.name in overrides) for rule in DEFAULTS]
    listing += [
        EffectiveRule(name, text, (), "Defined in the policy file.", (), "custom")
        for name, text in overrides.items()
        if name not in BY_NAME
    ]
    return compiled, listing


def _effective(rule: RuleDefault, text: str, overridden: bool) -> EffectiveRule:
    source = "policy file" if overridden else "default"
    return EffectiveRule(rule.name, text, rule.scope_types, rule.description, rule.operations, source)


def _refuse_loops(compiled: dict[str, Check]) -> None:
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise PolicyError("rules refer to each other in a loop: " + " -> ".join((*path, name)))
        if name in done:
            return
        for ref in compiled[name].references():
            visit(ref, (*path, name))
        done.add(name)

    for name in compiled:
        visit(name, ())


MAX_DECISIONS = 4096


class Enforcer:
    def __init__(self, policy_file: Path | None = None) -> None:
        self.policy_file = policy_file
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._rules, self._listing = compile_rules(self._read() if policy_file else {})
        # Decisions by (rule, the caller's fields the checks can see): the checks are pure, and
        # a server sees few distinct callers, so most requests skip evaluating the rule tree.
        self._decisions: dict[tuple[object, ...], str | None] = {}

    def _read(self) -> dict[str, str]:
        assert self.policy_file is not None
        try:
            self._mtime = self.policy_file.stat().st_mtime
        except OSError as exc:
            raise PolicyError(f"cannot read policy file {self.policy_file}: {exc}") from exc
        return load_policy_file(self.policy_file)

    def _reload_if_changed(self) -> None:
        if self.policy_file is None:
            return
        try:
            mtime = os.stat(self.policy_file).st_mtime
        except OSError:
            return  # a file being replaced; keep the rules we have
        if mtime == self._mtime:
            return
        with self._lock:
            if mtime == self._mtime:
                return
            try:
                self._rules, self._listing = compile_rules(self._read())
                self._decisions = {}
                log.info("policy file %s reloaded", self.policy_file)
            except PolicyError as exc:
                self._mtime = mtime
                log.error("policy file %s not reloaded, previous rules stay: %s", self.policy_file, exc)

    def rules(self) -> list[EffectiveRule]:
        self._reload_if_changed()
        return list(self._listing)

    def check(self, key: str, ctx: RequestContext) -> None:
        """Raise Forbidden unless `ctx` may do what the rule `key` guards."""
        self._reload_if_changed()
        decisions = self._decisions
        caller = (
            key,
            ctx.user_id,
            ctx.project_id,
            ctx.roles,
            ctx.service_roles,
            ctx.host,
            ctx.system_scope,
            ctx.domain_id,
        )
        try:
            refusal = decisions[caller]
        except KeyError:
            refusal = self._decide(key, ctx)
            if len(decisions) >= MAX_DECISIONS:
                decisions.clear()
            decisions[caller] = refusal
        if refusal is not None:
            raise Forbidden(refusal)

    def _decide(self, key: str, ctx: RequestContext) -> str | None:
        """Why `ctx` may not do what the rule `key` guards; None if it may."""
        rule = BY_KEY[key]
        scope = token_scope(ctx)
        if rule.scope_types and scope not in rule.scope_types:
            return (
                f"{rule.name} requires a scope of {', '.join(rule.scope_types)}; "
                f"the request was made with {scope} scope."
            )
        rules = self._rules
        if not rules[rule.name](credentials(ctx), target(ctx), rules.get):
            return f"Access was denied to the following resource: {rule.name}"
        return None


_DEFAULT: Enforcer | None = None


def default_enforcer() -> Enforcer:
    """The defaults alone, for contexts built without a server's policy (internal callers, tests)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Enforcer()
    return _DEFAULT
