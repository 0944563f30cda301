"""`accord serve`: the API server's command line, on argparse.

Routed here before Typer is imported (`accord.cli.entry`): the server process then holds no CLI
framework (Typer, click and Rich are ~10 MiB of a ~90 MiB server).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="accord serve",
        description="Run the API server (migrates the schema first). SIGTERM stops it gracefully.",
    )
    p.add_argument(
        "--config", type=Path, help="TOML file: [accord], [keystone_authtoken] and [oslo_policy] tables"
    )
    p.add_argument("--address", help="Listen address (127.0.0.1)")
    p.add_argument("--port", type=int, help="Listen port (6666)")
    p.add_argument(
        "--workers", type=int, default=1, help="Worker processes (the server keeps no state of its own)"
    )
    p.add_argument(
        "--insecure-noauth-anywhere",
        action="store_true",
        help="Let ACCORD_AUTH=noauth listen beyond loopback: anyone who reaches it is admin",
    )
    p.add_argument("--ssl-certfile", help="Serve HTTPS: certificate chain (PEM)")
    p.add_argument("--ssl-keyfile", help="Serve HTTPS: private key (PEM)")
    return p


def _error(message: str) -> None:
    print(f"\x1b[31m{message}\x1b[0m" if sys.stderr.isatty() else message, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from accord.api.malloc import limit_malloc_arenas

    limit_malloc_arenas()  # before any thread starts: see api/malloc.py
    import uvicorn

    from accord.api.app import create_app
    from accord.api.auth import make_policy
    from accord.cli.exposure import EXIT_UNSAFE, describe, refuse_reason
    from accord.cli.listen import CannotListen, bind
    from accord.cli.logs import setup_logging
    from accord.config import ConfigError, load_settings
    from accord.store.migrate import upgrade_in_child

    try:
        settings = load_settings(
            config_file=args.config,
            address=args.address,
            port=args.port,
            insecure_noauth_anywhere=args.insecure_noauth_anywhere or None,
            ssl_certfile=args.ssl_certfile,
            ssl_keyfile=args.ssl_keyfile,
        )
    except ConfigError as exc:
        _error(f"configuration error: {exc}")
        return 2
    refusal = refuse_reason(settings)
    if refusal:
        _error(f"error: {refusal}")
        return EXIT_UNSAFE
    try:
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
    try:
        sock = bind(settings.address, settings.port)  # "listening" is said only once this holds
    except CannotListen as exc:
        _error(f"error: {exc}")
        return exc.exit_code
    server_options: dict[str, Any] = {
        "log_level": "warning",
        # SIGTERM: stop accepting, let in-flight requests finish within this bound, then exit.
        "timeout_graceful_shutdown": max(1, round(settings.shutdown_timeout_s)),
        "ssl_certfile": settings.ssl_certfile or None,
        "ssl_keyfile": settings.ssl_keyfile or None,
    }
    if args.workers > 1:
        # Workers rebuild the settings from the environment: pass on what the flags said.
        os.environ.update({"ACCORD_ADDRESS": settings.address, "ACCORD_PORT": str(settings.port)})
        if args.config is not None:
            os.environ["ACCORD_CONFIG_FILE"] = str(args.config)
        # uvicorn's supervisor binds the address itself (its API for a given socket changes between
        # versions): the socket above only proved the address free, so a busy port is still exit 8.
        sock.close()
        print(describe(settings), flush=True)
        uvicorn.run(
            "accord.api.app:app_from_environment",
            factory=True,
            host=settings.address,
            port=settings.port,
            workers=args.workers,
            **server_options,
        )
        return 0
    try:
        server_app = create_app(settings)
    except ConfigError as exc:  # a policy file or keystone option the server cannot use
        _error(f"configuration error: {exc}")
        return 2
    print(describe(settings), flush=True)
    # uvicorn re-raises the signal it caught once it has shut down: Ctrl-C ends quietly.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(uvicorn.Config(server_app, **server_options)).run(sockets=[sock])
    return 0
