"""Run `drive_ipa.py` with `.venv-ipa`'s python (IPA 13 + `accord[ironic]`) over a plan and read
its JSON lines as they come; the ramdisk's environment (sysfs root, simulated backend, kernel
command line file) is passed as the process environment, as the ramdisk would have it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.venv_driver import REPO, VenvDriver

IPA_PYTHON = REPO / ".venv-ipa" / "bin" / "python"
DRIVER = Path(__file__).resolve().parent / "drive_ipa.py"


class IpaDriver(VenvDriver):
    name = "IPA driver"

    def __init__(self, actions: list[dict[str, Any]], env: dict[str, str], log_path: Path) -> None:
        super().__init__(IPA_PYTHON, DRIVER, {"actions": actions}, log_path, env)


def run_plan(actions: list[dict[str, Any]], env: dict[str, str], log_path: Path) -> list[dict[str, Any]]:
    return IpaDriver(actions, env, log_path).finish()
