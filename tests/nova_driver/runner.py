"""Run `drive_cyborg.py` with `.venv-nova`'s python and read its JSON lines as they come."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.venv_driver import REPO, VenvDriver

NOVA_PYTHON = REPO / ".venv-nova" / "bin" / "python"
DRIVER = Path(__file__).resolve().parent / "drive_cyborg.py"


class NovaDriver(VenvDriver):
    """One run of Nova's own Cyborg client code over a plan."""

    name = "Nova driver"

    def __init__(self, plan: dict[str, Any], log_path: Path) -> None:
        super().__init__(NOVA_PYTHON, DRIVER, plan, log_path)


def run_plan(plan: dict[str, Any], log_path: Path) -> list[dict[str, Any]]:
    return NovaDriver(plan, log_path).finish()
