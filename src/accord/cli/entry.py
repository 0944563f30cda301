"""The `accord` console script: `accord agent …` and `accord serve …` go to slim command lines
(no Typer, click or Rich in the agent on every compute host, nor in the server); every other
command to the Typer app."""

from __future__ import annotations

import sys


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "agent":
        # httpcore imports trio whenever it is installed (selenium brings it into dev venvs); the
        # agent's HTTP client is synchronous and would carry ~4.5 MiB of trio for nothing. None
        # in sys.modules makes that import fail, which httpcore takes as "no trio".
        sys.modules.setdefault("trio", None)  # type: ignore[arg-type]
        from accord.agent.cli import main as agent_main

        sys.exit(agent_main(sys.argv[2:]))
    if command == "serve":
        from accord.cli.serve import main as serve_main

        sys.exit(serve_main(sys.argv[2:]))
    from accord.cli.main import app

    app()
