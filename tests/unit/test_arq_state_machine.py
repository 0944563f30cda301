"""The ARQ state machine and patch rules, as plain Python (no HTTP, no database)."""

from __future__ import annotations

import pytest

from accord.domain.arq import (
    RESOLVED_STATES,
    ARQState,
    BindRequest,
    UnbindRequest,
    check_transition,
    parse_patch,
)
from accord.domain.errors import BadState, InvalidInput

S = ARQState
ALLOWED = {
    (S.INITIAL, S.BIND_STARTED),
    (S.UNBOUND, S.BIND_STARTED),
    (S.BIND_STARTED, S.BOUND),
    (S.INITIAL, S.UNBOUND),
    (S.BIND_STARTED, S.UNBOUND),
    (S.BOUND, S.UNBOUND),
    (S.BIND_FAILED, S.UNBOUND),
    (S.BIND_STARTED, S.BIND_FAILED),
    (S.BOUND, S.BIND_FAILED),
} | {(s, S.DELETING) for s in S}


@pytest.mark.parametrize("source", list(S))
@pytest.mark.parametrize("target", [t for t in S if t != S.INITIAL])
def test_every_transition_matches_cyborg(source: ARQState, target: ARQState) -> None:
    if (source, target) in ALLOWED:
        check_transition(source.value, target)
    else:
        with pytest.raises(BadState, match=f"cannot go to {target.value}"):
            check_transition(source.value, target)


def test_resolved_states() -> None:
    assert {S.BOUND, S.BIND_FAILED, S.DELETING} == RESOLVED_STATES


A = "3f0c8b8e-8f1a-4c43-a3a4-6b1f9a5f0c11"
B = "0a6d5c9e-3b47-4c5e-8a3c-1b3f5c7d9e21"
RP = "6c0c2d1e-5a5b-4f3e-9d2c-1b0a9f8e7d6c"


def add(path: str, value: str) -> dict[str, str]:
    return {"op": "add", "path": path, "value": value}


def test_bind_patch_parses_into_requests() -> None:
    plan = parse_patch(
        {A.upper(): [add("/hostname", "h"), add("/device_rp_uuid", RP), add("/instance_uuid", B)]},
        project_id_allowed=False,
    )
    assert plan.binds == [BindRequest(A, B, "h", RP)]
    assert plan.unbinds == []


def test_hostless_bind_only_when_allowed() -> None:
    plan = parse_patch({A: [add("/instance_uuid", B)]}, project_id_allowed=False)
    assert plan.binds == [BindRequest(A, B, None, None)]
    with pytest.raises(InvalidInput, match="needs /hostname"):
        parse_patch({A: [add("/instance_uuid", B)]}, project_id_allowed=False, allow_hostless=False)


def test_unbind_patch() -> None:
    plan = parse_patch({A: [{"op": "remove", "path": "/hostname"}]}, project_id_allowed=False)
    assert plan.unbinds == [UnbindRequest(A)]


def test_mixing_bind_and_unbind_across_arqs_is_refused() -> None:
    body = {
        A: [add("/hostname", "h"), add("/device_rp_uuid", RP), add("/instance_uuid", B)],
        B: [{"op": "remove", "path": "/hostname"}],
    }
    with pytest.raises(InvalidInput, match="must be bound, or all unbound"):
        parse_patch(body, project_id_allowed=False)


def test_duplicate_path_and_project_id_rules() -> None:
    with pytest.raises(InvalidInput, match="appears twice"):
        parse_patch({A: [add("/instance_uuid", B), add("/instance_uuid", B)]}, project_id_allowed=False)
    with pytest.raises(InvalidInput, match="project_id"):
        parse_patch({A: [add("/instance_uuid", B), add("/project_id", "p")]}, project_id_allowed=False)
    plan = parse_patch({A: [add("/instance_uuid", B), add("/project_id", "p")]}, project_id_allowed=True)
    assert plan.binds[0].project_id == "p"


@pytest.mark.parametrize("value", ["", 5, None, ["x"]])
def test_values_must_be_non_empty_strings(value: object) -> None:
    with pytest.raises(InvalidInput, match="non-empty string"):
        parse_patch({A: [{"op": "add", "path": "/instance_uuid", "value": value}]}, project_id_allowed=False)
