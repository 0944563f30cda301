"""Client commands for Cyborg's resources: profile, arq, device, deployable, attribute, host."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from accord.cli.client import Client

profile_app = typer.Typer(
    help="Device profiles: what a request for accelerators asks for.", no_args_is_help=True
)
arq_app = typer.Typer(help="Accelerator requests (ARQs).", no_args_is_help=True)
device_app = typer.Typer(help="Devices reported by the agents.", no_args_is_help=True)
deployable_app = typer.Typer(help="Deployables (regions, partitions).", no_args_is_help=True)
attribute_app = typer.Typer(help="Deployable attributes (rc, traits).", no_args_is_help=True)
host_app = typer.Typer(help="Hosts and their agents.", no_args_is_help=True)

PROFILE_COLUMNS = ("uuid", "name", "description", "groups")
ARQ_COLUMNS = (
    "uuid",
    "state",
    "device_profile_name",
    "device_profile_group_id",
    "hostname",
    "instance_uuid",
    "attach_handle_type",
)
DEVICE_COLUMNS = ("uuid", "type", "vendor", "model", "hostname", "status")
DEPLOYABLE_COLUMNS = (
    "uuid",
    "name",
    "num_accelerators",
    "device_id",
    "rp_uuid",
    "driver_name",
    "bitstream_id",
)
ATTRIBUTE_COLUMNS = ("uuid", "deployable_id", "key", "value")
HOST_COLUMNS = ("name", "state", "agent_version", "last_seen_at", "device_count")


def client(ctx: typer.Context) -> Client:
    obj: Client = ctx.obj
    return obj


@profile_app.command("list")
def profile_list(
    ctx: typer.Context, name: Annotated[str | None, typer.Option(help="Comma-separated names")] = None
) -> None:
    c = client(ctx)
    data = c.call("GET", "/v2/device_profiles", params={"name": name} if name else None)
    c.show(data["device_profiles"], PROFILE_COLUMNS)


@profile_app.command("show")
def profile_show(ctx: typer.Context, ident: str) -> None:
    c = client(ctx)
    c.show_record(c.call("GET", f"/v2/device_profiles/{ident}")["device_profile"])


@profile_app.command("create")
def profile_create(
    ctx: typer.Context,
    name: str,
    group: Annotated[list[str], typer.Option(help="A group as key=value,key=value; repeat for more groups")],
    description: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Example: accord profile create fpga1 --group resources:FPGA=1,trait:CUSTOM_FPGA_INTEL=required"""
    groups = []
    for text in group:
        pairs = [p.split("=", 1) for p in text.split(",") if p]
        if any(len(p) != 2 for p in pairs):
            raise typer.BadParameter(f"group {text!r} must be key=value pairs separated by commas")
        groups.append({k: v for k, v in pairs})
    body: dict[str, Any] = {"name": name, "groups": groups}
    if description is not None:
        body["description"] = description
    c = client(ctx)
    c.show_record(c.call("POST", "/v2/device_profiles", json=[body]))


@profile_app.command("delete")
def profile_delete(ctx: typer.Context, idents: list[str]) -> None:
    c = client(ctx)
    c.call("DELETE", "/v2/device_profiles", params={"value": ",".join(idents)})
    c.report({"deleted": idents}, f"deleted device profile {', '.join(idents)}")


@arq_app.command("list")
def arq_list(ctx: typer.Context, instance: Annotated[str | None, typer.Option()] = None) -> None:
    c = client(ctx)
    data = c.call("GET", "/v2/accelerator_requests", params={"instance": instance} if instance else None)
    c.show(data["arqs"], ARQ_COLUMNS)


@arq_app.command("show")
def arq_show(ctx: typer.Context, arq_uuid: str) -> None:
    c = client(ctx)
    c.show_record(c.call("GET", f"/v2/accelerator_requests/{arq_uuid}"))


@arq_app.command("create")
def arq_create(ctx: typer.Context, profile: str) -> None:
    c = client(ctx)
    c.show(
        c.call("POST", "/v2/accelerator_requests", json={"device_profile_name": profile})["arqs"], ARQ_COLUMNS
    )


@arq_app.command("delete")
def arq_delete(ctx: typer.Context, arq_uuids: list[str]) -> None:
    c = client(ctx)
    c.call("DELETE", "/v2/accelerator_requests", params={"arqs": ",".join(arq_uuids)})
    c.report({"deleted": arq_uuids}, f"deleted accelerator request {', '.join(arq_uuids)}")


@arq_app.command("bind")
def arq_bind(
    ctx: typer.Context,
    arq_uuid: str,
    instance: Annotated[str, typer.Option(help="Instance (VM or workload) uuid")],
    hostname: Annotated[str | None, typer.Option(help="Omit with --rp to let Accord choose")] = None,
    rp: Annotated[str | None, typer.Option(help="device_rp_uuid of the deployable")] = None,
) -> None:
    ops: list[dict[str, str | None]] = [{"op": "add", "path": "/instance_uuid", "value": instance}]
    if hostname or rp:
        ops += [
            {"op": "add", "path": "/hostname", "value": hostname},
            {"op": "add", "path": "/device_rp_uuid", "value": rp},
        ]
    c = client(ctx)
    c.call("PATCH", "/v2/accelerator_requests", json={arq_uuid: ops})
    c.show_record(c.call("GET", f"/v2/accelerator_requests/{arq_uuid}"))


@arq_app.command("unbind")
def arq_unbind(ctx: typer.Context, arq_uuid: str) -> None:
    ops = [{"op": "remove", "path": p} for p in ("/hostname", "/device_rp_uuid", "/instance_uuid")]
    c = client(ctx)
    c.call("PATCH", "/v2/accelerator_requests", json={arq_uuid: ops})
    c.show_record(c.call("GET", f"/v2/accelerator_requests/{arq_uuid}"))


@device_app.command("list")
def device_list(
    ctx: typer.Context,
    type: Annotated[str | None, typer.Option("--type")] = None,
    vendor: Annotated[str | None, typer.Option()] = None,
    hostname: Annotated[str | None, typer.Option()] = None,
) -> None:
    params = {k: v for k, v in {"type": type, "vendor": vendor, "hostname": hostname}.items() if v}
    c = client(ctx)
    c.show(c.call("GET", "/v2/devices", params=params)["devices"], DEVICE_COLUMNS)


@device_app.command("show")
def device_show(ctx: typer.Context, device_uuid: str) -> None:
    c = client(ctx)
    c.show_record(c.call("GET", f"/v2/devices/{device_uuid}"))


@device_app.command("enable")
def device_enable(ctx: typer.Context, device_uuid: str) -> None:
    c = client(ctx)
    c.call("POST", f"/v2/devices/{device_uuid}/enable")
    c.show_record(c.call("GET", f"/v2/devices/{device_uuid}"))


@device_app.command("disable")
def device_disable(ctx: typer.Context, device_uuid: str) -> None:
    c = client(ctx)
    c.call("POST", f"/v2/devices/{device_uuid}/disable")
    c.show_record(c.call("GET", f"/v2/devices/{device_uuid}"))


@deployable_app.command("list")
def deployable_list(
    ctx: typer.Context,
    device: Annotated[str | None, typer.Option(help="Only this device's deployables (device uuid)")] = None,
) -> None:
    c = client(ctx)
    rows = c.call("GET", "/v2/deployables")["deployables"]
    if device:
        rows = [r for r in rows if r["device_id"] == device]
    c.show(rows, DEPLOYABLE_COLUMNS)


@deployable_app.command("show")
def deployable_show(ctx: typer.Context, deployable_uuid: str) -> None:
    c = client(ctx)
    c.show_record(c.call("GET", f"/v2/deployables/{deployable_uuid}"))


@attribute_app.command("list")
def attribute_list(
    ctx: typer.Context,
    deployable: Annotated[str | None, typer.Option(help="Deployable uuid")] = None,
    key: Annotated[str | None, typer.Option()] = None,
) -> None:
    params = {k: v for k, v in {"deployable_id": deployable, "key": key}.items() if v}
    c = client(ctx)
    c.show(c.call("GET", "/v2/attributes", params=params)["attributes"], ATTRIBUTE_COLUMNS)


@attribute_app.command("show")
def attribute_show(ctx: typer.Context, attribute_uuid: str) -> None:
    c = client(ctx)
    c.show_record(c.call("GET", f"/v2/attributes/{attribute_uuid}"))


@attribute_app.command("create")
def attribute_create(ctx: typer.Context, deployable: str, key: str, value: str) -> None:
    c = client(ctx)
    c.show_record(
        c.call("POST", "/v2/attributes", json={"deployable_id": deployable, "key": key, "value": value})
    )


@attribute_app.command("delete")
def attribute_delete(ctx: typer.Context, attribute_uuid: str) -> None:
    c = client(ctx)
    c.call("DELETE", f"/v2/attributes/{attribute_uuid}")
    c.report({"deleted": [attribute_uuid]}, f"deleted attribute {attribute_uuid}")


@host_app.command("list")
def host_list(ctx: typer.Context) -> None:
    c = client(ctx)
    c.show(c.call("GET", "/v2/hosts")["hosts"], HOST_COLUMNS)


@host_app.command("show")
def host_show(ctx: typer.Context, name: str) -> None:
    c = client(ctx)
    c.show_record(c.call("GET", f"/v2/hosts/{name}"))


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2)


operation_app = typer.Typer(
    help="Operations the agents carry out (program, mdev, firmware).", no_args_is_help=True
)
quota_app = typer.Typer(help="Per-project quotas by resource class.", no_args_is_help=True)
OPERATION_COLUMNS = ("uuid", "kind", "hostname", "state", "attempts", "error")
QUOTA_COLUMNS = ("project_id", "resource_class", "limit", "in_use")


@operation_app.command("list")
def operation_list(
    ctx: typer.Context,
    hostname: Annotated[str | None, typer.Option()] = None,
    state: Annotated[str | None, typer.Option()] = None,
) -> None:
    params = {k: v for k, v in {"hostname": hostname, "state": state}.items() if v}
    c = client(ctx)
    c.show(c.call("GET", "/v2/operations", params=params)["operations"], OPERATION_COLUMNS)


@operation_app.command("show")
def operation_show(ctx: typer.Context, operation_uuid: str) -> None:
    c = client(ctx)
    c.show_record(c.call("GET", f"/v2/operations/{operation_uuid}"))


@quota_app.command("list")
def quota_list(ctx: typer.Context, project: Annotated[str | None, typer.Option()] = None) -> None:
    c = client(ctx)
    c.show(
        c.call("GET", "/v2/quotas", params={"project_id": project} if project else None)["quotas"],
        QUOTA_COLUMNS,
    )


@quota_app.command("set")
def quota_set(ctx: typer.Context, project: str, resource_class: str, limit: int) -> None:
    c = client(ctx)
    c.show_record(c.call("PUT", f"/v2/quotas/{project}/{resource_class}", json={"limit": limit}))


@quota_app.command("delete")
def quota_delete(ctx: typer.Context, project: str, resource_class: str) -> None:
    c = client(ctx)
    c.call("DELETE", f"/v2/quotas/{project}/{resource_class}")
    c.report(
        {"deleted": [{"project_id": project, "resource_class": resource_class}]},
        f"deleted the {resource_class} quota of project {project}",
    )


SCHEDULE_COLUMNS = ("rank", "hostname", "score", "group", "device_rp_uuid")


def schedule(
    ctx: typer.Context,
    profile: str,
    limit: Annotated[int, typer.Option(help="At most this many candidates")] = 10,
) -> None:
    """Ranked placement candidates for a device profile (Accord's own scheduler).

    One row per group of each candidate: its hostname and device_rp_uuid are what
    `accord arq bind ARQ --instance VM --hostname HOST --rp DEVICE_RP_UUID` takes."""
    c = client(ctx)
    found = c.call("GET", "/v2/allocation_candidates", params={"device_profile": profile, "limit": limit})
    if c.as_json:
        c.show(found["allocation_candidates"])
        return
    rows = [
        {
            "rank": rank,
            "hostname": candidate["hostname"],
            "score": round(candidate["score"], 3),
            "group": group["group_id"],
            "device_rp_uuid": group["device_rp_uuid"],
        }
        for rank, candidate in enumerate(found["allocation_candidates"], 1)
        for group in candidate["groups"]
    ]
    c.show(rows, SCHEDULE_COLUMNS)
