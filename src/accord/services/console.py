"""What the operator console shows: each page's data as plain dicts, read in one transaction.

The console's handlers (api/console) authorize, call one of these and render a template; the
actions they take (enable, approve, rollouts) are the same use cases the API calls.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from accord.domain.arq import ARQState
from accord.domain.context import RequestContext
from accord.domain.rollout import ENDED_STEPS, FINAL_STATES, counts
from accord.services.app import Services
from accord.store import arqs as arq_store
from accord.store import audit, fleet, hardware, hosts, images
from accord.store.models import AcceleratorRequest, AttachHandle, Device, FirmwareRollout, Image, Operation
from accord.store.rollouts import get_rollout, list_rollouts

HEALTH_ORDER = ("ok", "degraded", "unusable", "lost")


def at(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:  # SQLite gives naive datetimes, stored in UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _health(row: Device) -> tuple[str, list[str]]:
    reasons = [*row.health_reasons, *([row.quarantine_reason] if row.quarantine_reason else [])]
    if row.lost:
        return "lost", ["the agent no longer reports it", *reasons]
    return ("unusable" if row.quarantine_reason else row.health), reasons


def _device(row: Device, usage: tuple[int, int], functions: list[str]) -> dict[str, Any]:
    health, reasons = _health(row)
    return {
        "uuid": row.uuid,
        "type": row.type,
        "vendor": row.vendor,
        "model": row.model,
        "hostname": row.hostname,
        "pci_address": row.pci_address,
        "status": row.status,
        "health": health,
        "reasons": reasons,
        "firmware_version": row.firmware_version or "",
        "functions": functions,
        "in_use": usage[0],
        "handles": usage[1],
    }


def fleet_overview(services: Services) -> dict[str, Any]:
    with services.db.read() as session:
        host_rows = [
            {"name": h.name, "state": h.state, "last_seen_at": at(h.last_seen_at), "devices": count}
            for h, count in hosts.list_hosts(session)
        ]
        usage = fleet.usage_by_device(session)
        functions = fleet.loaded_functions(session)
        devices = [
            _device(d, usage.get(d.id, (0, 0)), functions.get(d.id, []))
            for d in hardware.list_devices(session)
        ]
    by_type: dict[str, Counter[str]] = {}
    for device in devices:
        by_type.setdefault(device["type"], Counter())[device["health"]] += 1
    return {
        "hosts": host_rows,
        "hosts_up": sum(1 for h in host_rows if h["state"] == "up"),
        "hosts_lost": sum(1 for h in host_rows if h["state"] != "up"),
        "devices": devices,
        "by_type": {t: [(h, c[h]) for h in HEALTH_ORDER if c[h]] for t, c in sorted(by_type.items())},
    }


def _handle(handle: AttachHandle, arq: AcceleratorRequest | None) -> dict[str, Any]:
    return {
        "uuid": handle.uuid,
        "type": handle.attach_type,
        "info": json.loads(handle.attach_info or "{}"),
        "in_use": handle.in_use,
        "lost": handle.lost,
        "arq": (
            {
                "uuid": arq.uuid,
                "state": arq.state,
                "instance_uuid": arq.instance_uuid,
                "project": arq.project_id,
            }
            if arq is not None
            else None
        ),
    }


def operation_view(row: Operation, device_uuid: str | None = None) -> dict[str, Any]:
    return {
        "uuid": row.uuid,
        "kind": row.kind,
        "hostname": row.hostname,
        "device_uuid": device_uuid,
        "state": row.state,
        "attempts": row.attempts,
        "max_attempts": row.max_attempts,
        "created_at": at(row.created_at),
        "started_at": at(row.started_at),
        "finished_at": at(row.finished_at),
        "lease_expires_at": at(row.lease_expires_at),
        "error": row.error or "",
        "image": row.params.get("image_uuid") or "",
    }


def event_view(row: Any) -> dict[str, Any]:
    return {
        "at": at(row.at),
        "user_id": row.user_id or "",
        "project_id": row.project_id or "",
        "action": row.action,
        "target_type": row.target_type,
        "target_uuid": row.target_uuid or "",
        "device_uuid": row.device_uuid or "",
        "outcome": row.outcome,
        "detail": row.detail or {},
    }


def device_page(services: Services, device_uuid: str) -> dict[str, Any]:
    with services.db.read() as session:
        row = hardware.get_device(session, device_uuid)
        deployables = fleet.deployables_of(session, [row.id])[row.id]
        handles = fleet.handles_of(session, [d.id for d in deployables])
        attributes = hardware.attributes_by_deployable(session, {d.id for d in deployables})
        usage = fleet.usage_by_device(session).get(row.id, (0, 0))
        device = _device(row, usage, [d.function_id for d in deployables if d.function_id])
        device.update(driver=row.driver or "", numa_node=row.numa_node)
        return {
            "device": device,
            "deployables": [
                {
                    "uuid": d.uuid,
                    "name": d.name,
                    "rp_uuid": d.rp_uuid,
                    "resource_class": d.resource_class,
                    "num_accelerators": d.num_accelerators,
                    "function_id": d.function_id or "",
                    "interface_id": d.interface_id or "",
                    "traits": sorted(a.value for a in attributes.get(d.id, []) if a.key.startswith("trait")),
                    "handles": [_handle(h, arq) for h, arq in handles[d.id]],
                }
                for d in deployables
            ],
            "operations": [operation_view(o, row.uuid) for o in fleet.operations_of_device(session, row)],
            "history": [event_view(e) for e in audit.list_events(session, device_uuid=row.uuid, limit=50)],
        }


def arqs_by_state(services: Services, ctx: RequestContext) -> list[tuple[str, list[dict[str, Any]]]]:
    with services.db.read() as session:
        rows = [
            {
                "uuid": a.uuid,
                "state": a.state,
                "profile": a.profile.name,
                "group": a.device_profile_group_id,
                "hostname": a.hostname or "",
                "device_rp_uuid": a.device_rp_uuid or "",
                "instance_uuid": a.instance_uuid or "",
                "project_id": a.project_id or "",
                "failure_reason": a.failure_reason or "",
                "created_at": at(a.created_at),
            }
            for a in arq_store.list_arqs(session, ctx)
        ]
    order = [s.value for s in ARQState]
    grouped: dict[str, list[dict[str, Any]]] = {}
    for arq in rows:
        grouped.setdefault(str(arq["state"]), []).append(arq)
    return sorted(grouped.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))


def operations_page(services: Services) -> dict[str, Any]:
    with services.db.read() as session:
        running = fleet.operations_in_flight(session)
        recent = fleet.recent_operations(session)
        ids = {o.device_id for o in [*running, *recent] if o.device_id}
        devices = hardware.device_uuids(session, ids)
        return {
            "in_flight": [operation_view(o, devices.get(o.device_id or 0)) for o in running],
            "recent": [operation_view(o, devices.get(o.device_id or 0)) for o in recent],
        }


def image_view(row: Image) -> dict[str, Any]:
    parsed = row.parsed or {}
    return {
        "uuid": row.uuid,
        "name": row.name,
        "kind": row.kind,
        "state": row.state,
        "version": row.version or "",
        "function_id": row.function_id or "",
        "format": parsed.get("format", ""),
        "interface_id": parsed.get("interface_id") or "",
        "size": row.size,
        "sha256": row.sha256 or "",
        "signed": bool(row.signature),
        "reject_reason": row.reject_reason or "",
        "created_at": at(row.created_at),
    }


def catalog_page(services: Services) -> list[dict[str, Any]]:
    with services.db.read() as session:
        return [image_view(i) for i in images.list_images(session)]


def audit_search(services: Services, filters: dict[str, str], limit: int = 200) -> list[dict[str, Any]]:
    with services.db.read() as session:
        rows = audit.list_events(
            session,
            action=filters.get("action") or None,
            outcome=filters.get("outcome") or None,
            device_uuid=filters.get("device_uuid") or None,
            target_uuid=filters.get("target_uuid") or None,
            user_id=filters.get("user_id") or None,
            limit=limit,
        )
        return [event_view(e) for e in rows]


def rollout_view(row: FirmwareRollout) -> dict[str, Any]:
    ended = sum(1 for d in row.devices if d.step in ENDED_STEPS)
    return {
        "uuid": row.uuid,
        "image_uuid": row.image_uuid,
        "state": row.state,
        "finished": row.state in FINAL_STATES,
        "reason": row.reason or "",
        "canary": row.canary,
        "wave": row.wave,
        "max_failures": row.max_failures,
        "in_use": row.in_use,
        "current_wave": row.current_wave,
        "waves": 1 + max((d.wave for d in row.devices), default=0),
        "counts": {k: v for k, v in counts([d.step for d in row.devices]).items() if v},
        "ended": ended,
        "total": len(row.devices),
        "percent": round(100 * ended / len(row.devices)) if row.devices else 100,
        "requested_by": row.requested_by or "",
        "created_at": at(row.created_at),
        "devices": [
            {
                "device_uuid": d.device_uuid,
                "host": d.hostname,
                "wave": d.wave,
                "state": d.step,
                "reason": d.reason or "",
                "operation_uuid": d.operation_uuid or "",
            }
            for d in row.devices
        ],
    }


def rollouts_page(services: Services) -> dict[str, Any]:
    """The campaigns, and what a new one can take: approved firmware images and the devices."""
    with services.db.read() as session:
        campaigns = [rollout_view(r) for r in list_rollouts(session, None)]
        firmware = [image_view(i) for i in images.list_images(session, kind="firmware", state="approved")]
        devices = [
            {
                "uuid": d.uuid,
                "label": f"{d.hostname} {d.pci_address} {d.model}",
                "firmware_version": d.firmware_version or "",
            }
            for d in hardware.list_devices(session)
        ]
    return {"rollouts": campaigns, "firmware": firmware, "devices": devices}


def rollout_page(services: Services, rollout_uuid: str) -> dict[str, Any]:
    with services.db.read() as session:
        return rollout_view(get_rollout(session, rollout_uuid))
