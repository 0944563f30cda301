"""`accord agent` and `accord serve` start without the CLI framework (they run on every host and
as the long-lived server), and keep their exit codes and messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = ("typer", "click", "rich", "pygments", "alembic", "trio")
# Runs the console script's entry point, then names which heavy packages were loaded at exit
# (None in sys.modules is an import kept out). trio comes with selenium in the test venv.
PROBE = """
import atexit, sys
loaded = lambda: sorted(m for m in {heavy!r} if sys.modules.get(m) is not None)
atexit.register(lambda: print("LOADED", loaded(), file=sys.stderr))
sys.argv = ["accord", *{argv!r}]
from accord.cli.entry import main
main()
"""


def run_entry(*argv: str) -> subprocess.CompletedProcess[str]:
    code = PROBE.format(heavy=HEAVY, argv=list(argv))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_agent_once_against_an_unreachable_server_loads_no_cli_framework(tmp_path: Path) -> None:
    result = run_entry(
        "agent", "--server", "http://127.0.0.1:9", "--host", "h", "--sysfs-root", str(tmp_path), "--once",
        "--retries", "1",
    )  # fmt: skip
    assert result.returncode == 7, result.stderr
    assert "error: cannot reach Accord at http://127.0.0.1:9" in result.stderr
    assert "LOADED []" in result.stderr


def test_agent_refuses_a_malformed_physnet(tmp_path: Path) -> None:
    result = run_entry(
        "agent", "--server", "http://127.0.0.1:9", "--host", "h", "--sysfs-root", str(tmp_path),
        "--physnet", "ens1f0",
    )  # fmt: skip
    assert result.returncode == 2
    assert "error: --physnet 'ens1f0' is not NIC=PHYSNET" in result.stderr


def test_serve_loads_neither_typer_nor_rich_nor_alembic(tmp_path: Path) -> None:
    config = tmp_path / "accord.toml"
    config.write_text('[accord]\nauth = "nonsense"\n')
    result = run_entry("serve", "--config", str(config), "--port", "9")
    assert result.returncode == 2
    assert "configuration error:" in result.stderr
    assert "LOADED ['click']" in result.stderr  # uvicorn's own command line imports click


def test_other_commands_still_go_through_the_full_cli() -> None:
    result = run_entry("--help")
    assert result.returncode == 0
    assert "agent" in result.stdout and "serve" in result.stdout
    assert "typer" in result.stderr.split("LOADED", 1)[1]
