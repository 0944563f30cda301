"""The `accord` console script: `accord agent …` and `accord serve …` go to slim command lines
(no Typer, click or Rich in the agent on every compute host, nor in the server); every other
command to the Typer app."""

from __future__ import annotations

import sys


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "agent":
        from accord.agent.cli import main as agent_main

        sys.exit(agent_main(sys.argv[2:]))
    if command == "serve":
        from accord.cli.serve import main as serve_main

        sys.exit(serve_main(sys.argv[2:]))
    from accord.cli.main import app

    app()
