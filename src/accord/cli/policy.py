"""`accord policy list`: the rules this server would enforce, with the policy file applied."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from accord.cli.client import Client

policy_app = typer.Typer(help="Access policy: Cyborg's rules, Accord's own, and the policy file.")


@policy_app.command("list")
def list_(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML file ([oslo_policy] policy_file)")
    ] = None,
    changed: Annotated[bool, typer.Option("--changed", help="Only rules the policy file sets")] = False,
) -> None:
    """Print the effective rules: name, check string, scope types, and where each comes from."""
    from accord.api.auth import make_policy
    from accord.cli.main import settings_or_exit
    from accord.config import ConfigError

    settings = settings_or_exit(config)
    try:
        rules = make_policy(settings).rules()
    except ConfigError as exc:
        typer.secho(f"configuration error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc
    rows = [
        {**asdict(rule), "scope_types": ",".join(rule.scope_types)}
        for rule in rules
        if not changed or rule.source != "default"
    ]
    client: Client = ctx.obj
    client.show(rows, ["name", "check_str", "scope_types", "source"], title=settings.policy_file or None)
