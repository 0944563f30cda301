"""Rows → Cyborg's wire shapes. Links are built from where the server was really reached."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from accord.domain.arq import ARQState
from accord.domain.rollout import counts
from accord.store.arq_rows import NewArq
from accord.store.models import (
    AcceleratorRequest,
    AttachHandle,
    Attribute,
    AuditEvent,
    Deployable,
    Device,
    FirmwareRollout,
    Host,
    Image,
    Operation,
    TrustedKey,
)
from accord.store.profiles import ProfileRow


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite returns naive datetimes; they are stored in UTC
        return value.isoformat(timespec="seconds") + "+00:00"
    return value.isoformat(timespec="seconds")


def self_link(base: str, collection: str, uuid: str) -> list[dict[str, str]]:
    return [{"href": f"{base}/v2/{collection}/{uuid}", "rel": "self"}]


def _stamps(row: Any) -> dict[str, str | None]:
    return {"created_at": timestamp(row.created_at), "updated_at": timestamp(row.updated_at)}


def profile(base: str, row: ProfileRow) -> dict[str, Any]:
    # Written out (no helpers) as a list renders it once per row; same keys, same order.
    return {
        "uuid": row.uuid,
        "name": row.name,
        "description": row.description,
        "groups": row.profile_json.get("groups", []),
        "created_at": timestamp(row.created_at),
        "updated_at": None if row.updated_at is None else timestamp(row.updated_at),
        "links": [{"href": f"{base}/v2/device_profiles/{row.uuid}", "rel": "self"}],
    }


def arq(base: str, row: AcceleratorRequest) -> dict[str, Any]:
    bound = row.state == ARQState.BOUND.value and row.attach_handle is not None
    return _arq(base, row, row.profile.name, row.attach_handle if bound else None)


def new_arq(base: str, row: NewArq) -> dict[str, Any]:
    """A just-created ARQ, from its row: it holds no handle yet."""
    return _arq(base, row, row.device_profile_name, None)


def _arq(
    base: str, row: AcceleratorRequest | NewArq, profile_name: str, handle: AttachHandle | None
) -> dict[str, Any]:
    return {
        "uuid": row.uuid,
        "state": row.state,
        "device_profile_name": profile_name,
        "device_profile_group_id": row.device_profile_group_id,
        "hostname": row.hostname,
        "device_rp_uuid": row.device_rp_uuid,
        "instance_uuid": row.instance_uuid,
        "project_id": row.project_id,
        "attach_handle_type": handle.attach_type if handle else "",
        "attach_handle_uuid": handle.uuid if handle else None,
        "attach_handle_info": json.loads(handle.attach_info) if handle else {},
        **_stamps(row),
        "links": self_link(base, "accelerator_requests", row.uuid),
    }


def device(base: str, row: Device, with_status: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "uuid": row.uuid,
        "type": row.type,
        "vendor": row.vendor,
        "model": row.model,
        "std_board_info": row.std_board_info,
        "vendor_board_info": row.vendor_board_info,
        "hostname": row.hostname,
    }
    if with_status:
        body["status"] = row.status
    body.update(_stamps(row))
    body["links"] = self_link(base, "devices", row.uuid)
    return body


def deployable(
    base: str,
    row: Deployable,
    device_uuid: str,
    attributes: list[Attribute],
    parent: str | None,
    num_accelerators: int,
) -> dict[str, Any]:
    attrs = [{a.key: a.value} for a in attributes]
    return {
        "uuid": row.uuid,
        "parent_id": parent,
        "root_id": parent,
        "name": row.name,
        "num_accelerators": num_accelerators,
        "device_id": device_uuid,
        "attributes_list": json.dumps(attrs),
        "rp_uuid": row.rp_uuid,
        "driver_name": row.driver_name,
        "bitstream_id": row.bitstream_id,
        **_stamps(row),
        "links": [
            {"href": f"{base}/v2/deployables/{row.uuid}", "rel": "self"},
            {"href": f"{base}/deployables/{row.uuid}", "rel": "bookmark"},
        ],
    }


def attribute(base: str, row: Attribute, deployable_uuid: str) -> dict[str, Any]:
    return {
        "uuid": row.uuid,
        "deployable_id": deployable_uuid,
        "key": row.key,
        "value": row.value,
        **_stamps(row),
        "links": self_link(base, "attributes", row.uuid),
    }


def host(base: str, row: Host, device_count: int) -> dict[str, Any]:
    return {
        "name": row.name,
        "state": row.state,
        "bare_metal": row.bare_metal,
        "agent_version": row.agent_version,
        "last_seen_at": timestamp(row.last_seen_at),
        "device_count": device_count,
        **_stamps(row),
        "links": self_link(base, "hosts", row.name),
    }


def operation(base: str, row: Operation, device_uuid: str | None) -> dict[str, Any]:
    return {
        "uuid": row.uuid,
        "kind": row.kind,
        "hostname": row.hostname,
        "device_uuid": device_uuid,
        "state": row.state,
        "params": row.params,
        "attempts": row.attempts,
        "max_attempts": row.max_attempts,
        "lease_expires_at": timestamp(row.lease_expires_at),
        "started_at": timestamp(row.started_at),
        "finished_at": timestamp(row.finished_at),
        "error": row.error,
        "result": row.result,
        **_stamps(row),
        "links": self_link(base, "operations", row.uuid),
    }


def image(base: str, row: Image) -> dict[str, Any]:
    parsed = dict(row.parsed or {})
    parsed.pop("declared_sha256", None)
    return {
        "uuid": row.uuid,
        "name": row.name,
        "kind": row.kind,
        "vendor": row.vendor,
        "version": row.version,
        "function_id": row.function_id,
        "interface_id": parsed.get("interface_id"),
        "state": row.state,
        "sha256": row.sha256,
        "size": row.size,
        "signed": bool(row.signature),
        "signature": row.signature,
        "properties": row.properties or {},
        "parsed": parsed,
        "reject_reason": row.reject_reason,
        "owner": row.owner,
        "file": f"{base}/v2/images/{row.uuid}/file",
        "links": self_link(base, "images", row.uuid),
        **_stamps(row),
    }


def trusted_key(base: str, row: TrustedKey) -> dict[str, Any]:
    return {
        "uuid": row.uuid,
        "name": row.name,
        "public_key": row.public_key,
        "fingerprint": row.fingerprint,
        "links": self_link(base, "trusted_keys", row.uuid),
        **_stamps(row),
    }


def audit_event(row: AuditEvent) -> dict[str, Any]:
    return {
        "uuid": row.uuid,
        "at": timestamp(row.at),
        "user_id": row.user_id,
        "project_id": row.project_id,
        "action": row.action,
        "target_type": row.target_type,
        "target_uuid": row.target_uuid,
        "device_uuid": row.device_uuid,
        "image_sha256": row.image_sha256,
        "outcome": row.outcome,
        "detail": row.detail or {},
    }


def firmware_rollout(base: str, row: FirmwareRollout) -> dict[str, Any]:
    return {
        "uuid": row.uuid,
        "image_uuid": row.image_uuid,
        "state": row.state,
        "reason": row.reason,
        "canary": row.canary,
        "wave": int(row.wave) if row.wave.isdigit() else row.wave,
        "max_failures": row.max_failures,
        "in_use": row.in_use,
        "current_wave": row.current_wave,
        "waves": 1 + max((d.wave for d in row.devices), default=0),
        "selector": row.selector,
        "counts": counts([d.step for d in row.devices]),
        "devices": [
            {
                "device_uuid": d.device_uuid,
                "host": d.hostname,
                "wave": d.wave,
                "state": d.step,
                "reason": d.reason,
                "operation_uuid": d.operation_uuid,
            }
            for d in row.devices
        ],
        "requested_by": row.requested_by,
        **_stamps(row),
        "links": self_link(base, "firmware_rollouts", row.uuid),
    }
