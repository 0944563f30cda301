"""`accord ironic …`: Ironic nodes as Accord hosts (docs/ironic.md).

`enrol` marks the node as bare metal on the server and adds an agent token bound to the node's
uuid to the server's token file (run it where `accord token create` runs); `traits` prints the
traits and properties the node should carry, from what its ramdisk last reported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from accord.cli.client import Client
from accord.domain.baremetal import RegionFacts, node_facts

ironic_app = typer.Typer(help="Ironic nodes as Accord hosts (bare metal).", no_args_is_help=True)


def _client(ctx: typer.Context) -> Client:
    obj: Client = ctx.obj
    return obj


@ironic_app.command("enrol")
def enrol(
    ctx: typer.Context,
    node: Annotated[str, typer.Argument(help="The Ironic node's uuid (its host name in Accord)")],
    project: Annotated[str, typer.Option(help="Project the node's agent token acts in")] = "baremetal",
    config: Annotated[Path | None, typer.Option("--config", help="The server's TOML settings")] = None,
) -> None:
    """Mark NODE as a bare-metal host and issue its agent token (printed as the last line)."""
    from accord.api.tokens import TokenStore
    from accord.cli.main import settings_or_exit

    c = _client(ctx)
    host = c.call("PUT", f"/v2/hosts/{node}", json={"bare_metal": True})
    settings = settings_or_exit(config)
    token = TokenStore(settings.tokens_file).create(project, ["agent"], f"ironic-{node}", node)
    if c.as_json:
        typer.echo(json.dumps({"host": host, "token": token}))
        return
    typer.echo(
        f"node {node} enrolled as a bare-metal host; set on the node (Ironic masks driver_info tokens):"
    )
    typer.echo(
        f"  openstack baremetal node set {node} --driver-info "
        f'kernel_append_params="accord_url={c.url} accord_token=<token>"'
    )
    typer.echo(token)


def _facts(c: Client, node: str) -> dict[str, Any]:
    devices = c.call("GET", "/v2/devices", params={"hostname": node})["devices"]
    ids = {d["uuid"] for d in devices}
    regions = []
    for deployable in c.call("GET", "/v2/deployables")["deployables"]:
        if deployable["device_id"] not in ids:
            continue
        attributes = {
            k: v for pair in json.loads(deployable.get("attributes_list") or "[]") for k, v in pair.items()
        }
        traits = tuple(v for k, v in attributes.items() if k.startswith("trait"))
        regions.append(RegionFacts(attributes.get("rc", ""), int(deployable["num_accelerators"]), traits))
    facts = node_facts((d["type"] for d in devices), regions)
    return {"node": node, "traits": facts.traits, "properties": facts.properties}


@ironic_app.command("traits")
def traits(ctx: typer.Context, node: Annotated[str, typer.Argument(help="The Ironic node's uuid")]) -> None:
    """The traits and properties NODE should carry, from its last reported inventory."""
    c = _client(ctx)
    c.call("GET", f"/v2/hosts/{node}")  # an unknown node is a clear 404, not an empty list
    facts = _facts(c, node)
    if c.as_json:
        typer.echo(json.dumps(facts))
        return
    for trait in facts["traits"]:
        typer.echo(f"trait {trait}")
    for key, value in facts["properties"].items():
        typer.echo(f"property {key}={value}")
