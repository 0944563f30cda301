"""`accord serve`: the API server's command line, on argparse.

Routed here before Typer is imported (`accord.cli.entry`): the server process then holds no CLI
framework (Typer, click and Rich are ~10 MiB of a ~90 MiB server).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="accord serve", description="Run the API server (migrates the schema first)."
    )
    p.add_argument(
        "--config", type=Path, help="TOML file: [accord], [keystone_authtoken] and [oslo_policy] tables"
    )
    p.add_argument("--address", help="Listen address (127.0.0.1)")
    p.add_argument("--port", type=int, help="Listen port (6666)")
    p.add_argument(
        "--workers", type=int, default=1, help="Worker processes (the server keeps no state of its own)"
    )
    return p


def _error(message: str) -> None:
    print(f"\x1b[31m{message}\x1b[0m" if sys.stderr.isatty() else message, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    import uvicorn

    from accord.api.app import create_app
    from accord.api.auth import make_policy
    from accord.cli.logs import setup_logging
    from accord.config import ConfigError, load_settings
    from accord.store.migrate import upgrade_in_child

    try:
        settings = load_settings(config_file=args.config, address=args.address, port=args.port)
        make_policy(settings)  # a broken policy file stops the server before it listens
    except ConfigError as exc:
        _error(f"configuration error: {exc}")
        return 2
    setup_logging()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        upgrade_in_child(settings.effective_database_url)  # keeps Alembic out of the server process
    except RuntimeError as exc:
        _error(f"error: {exc}")
        return 1
    print(
        f"Accord listening on http://{settings.address}:{settings.port} (auth: {settings.auth})", flush=True
    )
    if args.workers > 1:
        # Workers rebuild the settings from the environment: pass on what the flags said.
        os.environ.update({"ACCORD_ADDRESS": settings.address, "ACCORD_PORT": str(settings.port)})
        if args.config is not None:
            os.environ["ACCORD_CONFIG_FILE"] = str(args.config)
        uvicorn.run(
            "accord.api.app:app_from_environment",
            factory=True,
            host=settings.address,
            port=settings.port,
            workers=args.workers,
            log_level="warning",
        )
        return 0
    try:
        server_app = create_app(settings)
    except ConfigError as exc:  # a policy file or keystone option the server cannot use
        _error(f"configuration error: {exc}")
        return 2
    uvicorn.run(server_app, host=settings.address, port=settings.port, log_level="warning")
    return 0
