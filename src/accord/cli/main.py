"""`accord`: the server (`serve`, `up`), schema (`db upgrade`), tokens, and the client commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from accord.cli import catalog, partitions, resources, rollouts, samples
from accord.cli.client import Client
from accord.cli.ironic import ironic_app
from accord.cli.policy import policy_app
from accord.config import ConfigError, Settings, load_settings


class JsonAnywhere(TyperGroup):
    """`--json` and `--field NAME` are global options, but people type them after the subcommand
    too (`accord device list --json`): move them to the front before Click parses the line.
    Arguments after a `--` are left alone."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # Any: typer may vendor click
        end = args.index("--") if "--" in args else len(args)
        front: list[str] = []
        rest: list[str] = []
        position = 0
        while position < end:
            arg = args[position]
            if position > 0 and arg == "--json":
                front.append(arg)
            elif position > 0 and arg == "--field" and position + 1 < end:
                front += [arg, args[position + 1]]
                position += 1
            elif position > 0 and arg.startswith("--field="):
                front.append(arg)
            else:
                rest.append(arg)
            position += 1
        return super().parse_args(ctx, front + rest + args[end:])


app = typer.Typer(
    cls=JsonAnywhere,
    help="Accord: managed accelerators with a Cyborg v2-compatible API.",
    no_args_is_help=True,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
token_app = typer.Typer(help="Bearer tokens for ACCORD_AUTH=token.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.command("schedule")(resources.schedule)
placement_app = typer.Typer(help="The Placement mirror (ACCORD_PLACEMENT_URL).", no_args_is_help=True)
app.add_typer(placement_app, name="placement")
app.add_typer(resources.profile_app, name="profile")
app.add_typer(resources.arq_app, name="arq")
app.add_typer(resources.device_app, name="device")
app.add_typer(resources.deployable_app, name="deployable")
app.add_typer(resources.attribute_app, name="attribute")
app.add_typer(resources.host_app, name="host")
app.add_typer(resources.operation_app, name="operation")
app.add_typer(resources.quota_app, name="quota")
catalog.image_app.command("sample")(samples.image_sample)
app.add_typer(catalog.image_app, name="image")
app.add_typer(catalog.key_app, name="key")
app.add_typer(catalog.audit_app, name="audit")
app.add_typer(rollouts.firmware_app, name="firmware")
app.add_typer(policy_app, name="policy")
app.add_typer(partitions.dra_app, name="dra")
app.add_typer(ironic_app, name="ironic")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="TOML file: [accord], [keystone_authtoken] and [oslo_policy] tables"),
]


@app.callback()
def main(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option(help="Accord API URL (ACCORD_URL)")] = None,
    token: Annotated[str | None, typer.Option(help="Bearer token (ACCORD_TOKEN)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables")] = False,
    field: Annotated[
        str | None, typer.Option("--field", help="Print only this field, one value a line (for scripts)")
    ] = None,
) -> None:
    ctx.obj = Client.from_options(url, token, as_json, field)


def _client(ctx: typer.Context) -> Client:
    obj: Client = ctx.obj
    return obj


def settings_or_exit(config: Path | None, **overrides: Any) -> Settings:
    try:
        return load_settings(config_file=config, **overrides)
    except ConfigError as exc:
        typer.secho(f"configuration error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc


def _prepare(settings: Settings, in_child: bool = False) -> None:
    from accord.store.db import Database
    from accord.store.migrate import upgrade, upgrade_in_child

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if in_child:  # serve and up: keep Alembic out of the long-running process
        try:
            upgrade_in_child(settings.effective_database_url)
        except RuntimeError as exc:
            typer.secho(f"error: {exc}", fg="red", err=True)
            raise typer.Exit(1) from exc
        return
    db = Database(settings.effective_database_url)
    upgrade(db.engine)
    db.dispose()


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Create or migrate the schema to the newest revision."""
    settings = settings_or_exit(config)
    _prepare(settings)
    where = settings.effective_database_url.split("@")[-1]
    _client(ctx).report({"database": where, "up_to_date": True}, f"database at {where} is up to date")


@placement_app.command("sync")
def placement_sync(config: ConfigOption = None) -> None:
    """Converge Placement with the store once (the server does this on every reconcile tick)."""
    import json

    from accord.placement.client import PlacementClient, PlacementUnreachable
    from accord.placement.mirror import PlacementMirror
    from accord.store.db import Database

    settings = settings_or_exit(config)
    if not settings.placement_url:
        typer.secho("error: ACCORD_PLACEMENT_URL is not set", fg="red", err=True)
        raise typer.Exit(2)
    db = Database(settings.effective_database_url)
    mirror = PlacementMirror(PlacementClient(settings.placement_url, settings.placement_token))
    try:
        with db.read() as session:
            report = mirror.sync(session)
    except PlacementUnreachable as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(7) from exc
    finally:
        db.dispose()
    typer.echo(json.dumps(report.__dict__, indent=2))
    if report.errors:
        raise typer.Exit(5)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def serve(ctx: typer.Context) -> None:
    """Run the API server (migrates the schema first; `accord serve --help` for its options)."""
    from accord.cli.serve import main as serve_main

    raise typer.Exit(serve_main(ctx.args))


@app.command()
def up(
    config: ConfigOption = None,
    port: Annotated[int | None, typer.Option(help="Listen port (6666)")] = None,
    demo: Annotated[bool, typer.Option(help="Add three simulated hosts (FPGA, GPU, QAT/NIC)")] = False,
) -> None:
    """Server and a local agent in one process, on SQLite in the data directory."""
    from accord.cli.exposure import EXIT_UNSAFE, refuse_reason
    from accord.cli.up import run_up

    settings = settings_or_exit(config, port=port)
    refusal = refuse_reason(settings)
    if refusal:  # `up` serves noauth unless ACCORD_AUTH says otherwise: same rule as serve
        typer.secho(f"error: {refusal}", fg="red", err=True)
        raise typer.Exit(EXIT_UNSAFE)
    _prepare(settings, in_child=True)
    run_up(settings, demo)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def agent(ctx: typer.Context) -> None:
    """The host agent: discover devices, report them, carry out queued operations
    (`accord agent --help` for its options)."""
    from accord.agent.cli import main as agent_main

    as_json = _client(ctx).as_json and "--json" not in ctx.args
    raise typer.Exit(agent_main([*ctx.args, "--json"] if as_json else ctx.args))


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    project: Annotated[str, typer.Option(help="Project the token acts in")],
    roles: Annotated[str, typer.Option(help="Comma-separated roles, e.g. member or admin,service")],
    user: Annotated[str | None, typer.Option(help="User id (default: generated)")] = None,
    host: Annotated[str | None, typer.Option(help="Bind the token to an agent's host")] = None,
    config: ConfigOption = None,
) -> None:
    """Add a token to the data directory's token file; the token is the last line printed."""
    from accord.api.tokens import TokenStore

    settings = settings_or_exit(config)
    role_list = [r.strip() for r in roles.split(",") if r.strip()]
    token = TokenStore(settings.tokens_file).create(project, role_list, user, host)
    if _client(ctx).as_json:
        _client(ctx).report(
            {"project_id": project, "roles": role_list, "user_id": user, "host": host, "token": token}, ""
        )
        return
    typer.echo(
        f"token for project {project} with roles {','.join(role_list)}" + (f" on host {host}" if host else "")
    )
    typer.echo(token)
