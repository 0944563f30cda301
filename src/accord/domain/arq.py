"""The ARQ state machine (Cyborg §2.1) and the rules of bind/unbind patches (§1.3).

Plain Python: the store asks `check_transition` before every conditional state update and
`parse_patch` turns a PATCH body into typed bind/unbind requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from accord.domain.device_profile import canonical_uuid
from accord.domain.errors import BadState, InvalidInput


class ARQState(StrEnum):
    INITIAL = "Initial"
    BIND_STARTED = "BindStarted"
    BOUND = "Bound"
    UNBOUND = "Unbound"
    BIND_FAILED = "BindFailed"
    DELETING = "Deleting"


ALLOWED_SOURCES: dict[ARQState, frozenset[ARQState]] = {
    ARQState.BIND_STARTED: frozenset({ARQState.INITIAL, ARQState.UNBOUND}),
    ARQState.BOUND: frozenset({ARQState.BIND_STARTED}),
    ARQState.UNBOUND: frozenset(
        {ARQState.INITIAL, ARQState.BIND_STARTED, ARQState.BOUND, ARQState.BIND_FAILED}
    ),
    ARQState.BIND_FAILED: frozenset({ARQState.BIND_STARTED, ARQState.BOUND}),
    ARQState.DELETING: frozenset(ARQState),
}

RESOLVED_STATES = frozenset({ARQState.BOUND, ARQState.BIND_FAILED, ARQState.DELETING})
# What Nova is told for each resolved state.
NOVA_STATUS = {
    ARQState.BOUND: "completed",
    ARQState.BIND_FAILED: "failed",
    ARQState.DELETING: "failed",
}


def sources_for(target: ARQState) -> frozenset[ARQState]:
    return ALLOWED_SOURCES[target]


def check_transition(current: str, target: ARQState) -> None:
    if ARQState(current) not in ALLOWED_SOURCES[target]:
        raise BadState(
            f"Accelerator request in state {current} cannot go to {target.value}; "
            f"allowed from: {', '.join(sorted(s.value for s in ALLOWED_SOURCES[target]))}."
        )


BIND_PATHS = ("hostname", "device_rp_uuid", "instance_uuid")
PATCH_PATHS = (*BIND_PATHS, "project_id")


@dataclass(frozen=True)
class BindRequest:
    arq_uuid: str
    instance_uuid: str
    hostname: str | None  # None with device_rp_uuid None: host-less bind, the scheduler chooses
    device_rp_uuid: str | None
    project_id: str | None = None


@dataclass(frozen=True)
class UnbindRequest:
    arq_uuid: str


@dataclass(frozen=True)
class PatchPlan:
    binds: list[BindRequest]
    unbinds: list[UnbindRequest]


def _ops_for(arq_uuid: str, ops: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(ops, list) or not ops:
        raise InvalidInput(f"The patch for {arq_uuid} must be a non-empty list of operations.")
    kinds: set[str] = set()
    values: dict[str, Any] = {}
    for op in ops:
        if not isinstance(op, dict) or not isinstance(op.get("path"), str):
            raise InvalidInput(f"Each operation for {arq_uuid} needs 'op' and 'path'.")
        kind = op.get("op")
        if kind not in ("add", "remove"):
            raise InvalidInput(f"Operation {kind!r} is not supported; use 'add' or 'remove'.")
        path = op["path"].lstrip("/")
        if path not in PATCH_PATHS:
            raise InvalidInput(
                f"Path {op['path']!r} cannot be patched; allowed: "
                + ", ".join("/" + p for p in PATCH_PATHS)
                + "."
            )
        if path in values:
            raise InvalidInput(f"Path /{path} appears twice in the patch for {arq_uuid}.")
        kinds.add(kind)
        values[path] = op.get("value")
    if len(kinds) > 1:
        raise InvalidInput(f"The operations for {arq_uuid} must be all 'add' or all 'remove'.")
    return kinds.pop(), values


def parse_patch(body: Any, *, project_id_allowed: bool, allow_hostless: bool = True) -> PatchPlan:
    """Turn `{arq_uuid: [json-patch ops]}` into bind or unbind requests.

    The op of the first ARQ decides bind vs unbind (Cyborg); mixing them across ARQs is refused
    here rather than half-applied.
    """
    if not isinstance(body, dict) or not body:
        raise InvalidInput("The body must map accelerator request uuids to JSON-patch lists.")
    binds: list[BindRequest] = []
    unbinds: list[UnbindRequest] = []
    first_kind: str | None = None
    for raw_uuid, ops in body.items():
        arq_uuid = canonical_uuid(raw_uuid, "Accelerator request uuid")
        kind, values = _ops_for(arq_uuid, ops)
        first_kind = first_kind or kind
        if kind != first_kind:
            raise InvalidInput("All accelerator requests in one patch must be bound, or all unbound.")
        if "project_id" in values and not project_id_allowed:
            raise InvalidInput("/project_id may not be patched here.")
        if kind == "remove":
            unbinds.append(UnbindRequest(arq_uuid))
            continue
        binds.append(_bind_request(arq_uuid, values, allow_hostless))
    return PatchPlan(binds, unbinds)


def _bind_request(arq_uuid: str, values: dict[str, Any], allow_hostless: bool) -> BindRequest:
    for path, value in values.items():
        if not isinstance(value, str) or not value:
            raise InvalidInput(f"/{path} must be a non-empty string.")
    if "instance_uuid" not in values:
        raise InvalidInput(f"Binding {arq_uuid} needs /instance_uuid.")
    hostless = "hostname" not in values and "device_rp_uuid" not in values
    if hostless and not allow_hostless:
        raise InvalidInput(f"Binding {arq_uuid} needs /hostname and /device_rp_uuid.")
    if not hostless and ("hostname" not in values or "device_rp_uuid" not in values):
        raise InvalidInput(
            f"Binding {arq_uuid} needs /hostname, /device_rp_uuid and /instance_uuid together "
            "(or /instance_uuid alone to let Accord choose)."
        )
    return BindRequest(
        arq_uuid=arq_uuid,
        instance_uuid=canonical_uuid(values["instance_uuid"], "/instance_uuid"),
        hostname=values.get("hostname"),
        device_rp_uuid=(
            canonical_uuid(values["device_rp_uuid"], "/device_rp_uuid")
            if "device_rp_uuid" in values
            else None
        ),
        project_id=values.get("project_id"),
    )
