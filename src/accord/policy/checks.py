"""The check-string grammar of oslo.policy, the part operators write in policy files.

    rule     := or_expr
    or_expr  := and_expr ("or" and_expr)*
    and_expr := not_expr ("and" not_expr)*
    not_expr := "not" not_expr | "(" or_expr ")" | check
    check    := "@" | "!" | "role:NAME" | "rule:NAME" | FIELD ":" VALUE

`@` always passes, `!` never does, an empty string is `@`. `role:` compares case-insensitively
with the caller's roles; `rule:` refers to another rule; any other `FIELD:VALUE` compares the
caller's credential FIELD (a dotted path, lists match any member) with VALUE as text, where
VALUE may take `%(key)s` from the target (`project_id:%(project_id)s`) and a literal field
(`True:%(flag)s`) compares with the target instead. Unlike oslo.policy, a credential that is
absent or None never matches, so `project_id:%(project_id)s` fails for a caller with no project.
"""

from __future__ import annotations

import ast
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Credentials = Mapping[str, Any]
Target = Mapping[str, Any]
# Resolves `rule:NAME` during evaluation; None when no such rule exists (the check then fails).
RuleLookup = Callable[[str], "Check | None"]


class PolicyError(ValueError):
    """A check string or policy file Accord cannot use."""


class Check(ABC):
    @abstractmethod
    def __call__(self, creds: Credentials, target: Target, rules: RuleLookup, depth: int = 0) -> bool: ...

    def references(self) -> set[str]:
        return set()


@dataclass(frozen=True)
class Always(Check):
    result: bool

    def __call__(self, creds: Credentials, target: Target, rules: RuleLookup, depth: int = 0) -> bool:
        return self.result

    def __str__(self) -> str:
        return "@" if self.result else "!"


@dataclass(frozen=True)
class Not(Check):
    inner: Check

    def __call__(self, creds: Credentials, target: Target, rules: RuleLookup, depth: int = 0) -> bool:
        return not self.inner(creds, target, rules, depth)

    def references(self) -> set[str]:
        return self.inner.references()

    def __str__(self) -> str:
        return f"not {self.inner}"


@dataclass(frozen=True)
class All(Check):
    parts: tuple[Check, ...]

    def __call__(self, creds: Credentials, target: Target, rules: RuleLookup, depth: int = 0) -> bool:
        return all(p(creds, target, rules, depth) for p in self.parts)

    def references(self) -> set[str]:
        return set().union(*(p.references() for p in self.parts))

    def __str__(self) -> str:
        return "(" + " and ".join(map(str, self.parts)) + ")"


@dataclass(frozen=True)
class Any_(Check):
    parts: tuple[Check, ...]

    def __call__(self, creds: Credentials, target: Target, rules: RuleLookup, depth: int = 0) -> bool:
        return any(p(creds, target, rules, depth) for p in self.parts)

    def references(self) -> set[str]:
        return set().union(*(p.references() for p in self.parts))

    def __str__(self) -> str:
        return "(" + " or ".join(map(str, self.parts)) + ")"


# Deep enough for any sensible policy; a loop through rule: references stops here.
MAX_DEPTH = 50


@dataclass(frozen=True)
class RuleRef(Check):
    name: str

    def __call__(self, creds: Credentials, target: Target, rules: RuleLookup, depth: int = 0) -> bool:
        check = rules(self.name)
        if check is None or depth >= MAX_DEPTH:
            return False
        return check(creds, target, rules, depth + 1)

    def references(self) -> set[str]:
        return {self.name}

    def __str__(self) -> str:
        return f"rule:{self.name}"


def _substitute(value: str, target: Target) -> str | None:
    if "%(" not in value:
        return value
    try:
        return value % target
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class RoleCheck(Check):
    role: str

    def __call__(self, creds: Credentials, target: Target, rules: RuleLookup, depth: int = 0) -> bool:
        wanted = _substitute(self.role, target)
        return wanted is not None and wanted.lower() in {str(r).lower() for r in creds.get("roles", ())}

    def __str__(self) -> str:
        return f"role:{self.role}"


def _lookup(creds: Credentials, path: str) -> Any:
    value: Any = creds
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


_LITERALS: dict[str, tuple[bool, object]] = {}
_LITERAL_LOCK = threading.Lock()


def _literal(text: str) -> tuple[bool, object]:
    """A field check's left side as a Python literal (`'member':%(role)s`), parsed once and under
    a lock: CPython 3.11's parser called from several request threads at once can fail with
    SystemError ("AST constructor recursion depth mismatch"), which was a 500 under load."""
    found = _LITERALS.get(text)
    if found is None:
        with _LITERAL_LOCK:
            try:
                found = (True, ast.literal_eval(text))
            except (ValueError, SyntaxError):
                found = (False, None)
            _LITERALS[text] = found
    return found


@dataclass(frozen=True)
class FieldCheck(Check):
    field: str
    value: str

    def __call__(self, creds: Credentials, target: Target, rules: RuleLookup, depth: int = 0) -> bool:
        wanted = _substitute(self.value, target)
        if wanted is None:
            return False
        is_literal, literal = _literal(self.field)
        if is_literal:
            return wanted == str(literal)
        actual = _lookup(creds, self.field)
        if actual is None:
            return False
        if isinstance(actual, list | tuple | set | frozenset):
            return wanted in {str(a) for a in actual}
        return wanted == str(actual)

    def __str__(self) -> str:
        return f"{self.field}:{self.value}"


def _tokens(text: str) -> list[str]:
    """Split on whitespace, then peel parentheses off each word's ends, as oslo.policy does
    (so `%(project_id)s` keeps its own parentheses)."""
    out: list[str] = []
    for word in text.split():
        stripped = word.lstrip("(")
        out.extend("(" * (len(word) - len(stripped)))
        core = stripped.rstrip(")")
        if core:
            out.append(core)
        out.extend(")" * (len(stripped) - len(core)))
    return out


def _atom(word: str) -> Check:
    if word == "@":
        return Always(True)
    if word == "!":
        return Always(False)
    kind, sep, value = word.partition(":")
    if not sep or not kind or not value:
        raise PolicyError(f"{word!r} is not a check (expected @, !, role:NAME, rule:NAME or FIELD:VALUE)")
    if kind == "role":
        return RoleCheck(value)
    if kind == "rule":
        return RuleRef(value)
    if kind == "http":
        raise PolicyError(f"{word!r}: http: checks are not supported")
    return FieldCheck(kind, value)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.words = _tokens(text)
        self.pos = 0

    def _peek(self) -> str | None:
        return self.words[self.pos] if self.pos < len(self.words) else None

    def _take(self) -> str:
        word = self._peek()
        if word is None:
            raise PolicyError(f"check string {self.text!r} ends too early")
        self.pos += 1
        return word

    def parse(self) -> Check:
        if not self.words:
            return Always(True)
        check = self._or()
        if self._peek() is not None:
            raise PolicyError(f"unexpected {self._peek()!r} in check string {self.text!r}")
        return check

    def _or(self) -> Check:
        parts = [self._and()]
        while (self._peek() or "").lower() == "or":
            self._take()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else Any_(tuple(parts))

    def _and(self) -> Check:
        parts = [self._not()]
        while (self._peek() or "").lower() == "and":
            self._take()
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def _not(self) -> Check:
        word = self._take()
        if word.lower() == "not":
            return Not(self._not())
        if word == "(":
            inner = self._or()
            if self._take() != ")":
                raise PolicyError(f"unbalanced parentheses in check string {self.text!r}")
            return inner
        if word == ")" or word.lower() in ("and", "or"):
            raise PolicyError(f"unexpected {word!r} in check string {self.text!r}")
        return _atom(word)


def parse(text: str) -> Check:
    """Parse one check string; PolicyError says what is wrong with it."""
    return _Parser(text).parse()
