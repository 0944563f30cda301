"""Partition commands: pin a GPU's mirrored vGPU type; export hosts as Kubernetes DRA objects."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from accord.cli.resources import client, device_app

dra_app = typer.Typer(
    help="Kubernetes Dynamic Resource Allocation (resource.k8s.io/v1).", no_args_is_help=True
)


@device_app.command("set-vgpu-type")
def device_set_vgpu_type(
    ctx: typer.Context,
    device_uuid: str,
    vgpu_type: Annotated[str, typer.Argument(help="A vGPU type id (nvidia-222); 'none' unpins")],
) -> None:
    """Pin the vGPU type Placement and DRA see for an idle GPU (a busy GPU keeps its type)."""
    c = client(ctx)
    wanted = None if vgpu_type.lower() == "none" else vgpu_type
    c.show_record(c.call("PUT", f"/v2/devices/{device_uuid}/vgpu_type", json={"vgpu_type": wanted}))


@dra_app.command("export")
def dra_export(
    ctx: typer.Context, host: Annotated[str | None, typer.Option(help="Only this host's pool")] = None
) -> None:
    """Print the DeviceClasses and every (or one) host's ResourceSlices as one Kubernetes List
    (JSON, for `kubectl apply -f -`)."""
    c = client(ctx)
    hosts = [host] if host else [h["name"] for h in c.call("GET", "/v2/hosts")["hosts"]]
    items: list[Any] = list(c.call("GET", "/v2/deviceclasses")["items"])
    for name in hosts:
        items += c.call("GET", f"/v2/hosts/{name}/resourceslices")["items"]
    typer.echo(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=2))
