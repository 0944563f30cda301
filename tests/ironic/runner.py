"""Run `drive_ipa.py` with `.venv-ipa`'s python (IPA 13 + `accord[ironic]`) over a plan and read
its JSON lines as they come; the ramdisk's environment (sysfs root, simulated backend, kernel
command line file) is passed as the process environment, as the ramdisk would have it."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent.parent
IPA_PYTHON = REPO / ".venv-ipa" / "bin" / "python"
DRIVER = Path(__file__).resolve().parent / "drive_ipa.py"


class IpaDriver:
    def __init__(self, actions: list[dict[str, Any]], env: dict[str, str], log_path: Path) -> None:
        if not IPA_PYTHON.exists():
            raise RuntimeError(f"{IPA_PYTHON} is missing: run `make ipa` at the repository root first")
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [str(IPA_PYTHON), str(DRIVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env={**os.environ, **env},
        )
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"actions": actions}))
        self.process.stdin.close()
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def finish(self, timeout: float = 180) -> list[dict[str, Any]]:
        records = []
        while True:
            line = self.lines.get(timeout=timeout)
            if line is None:
                break
            records.append(json.loads(line))
        rc = self.process.wait(timeout=timeout)
        self._log.close()
        assert rc == 0, f"the IPA driver exited {rc}:\n{self.stderr()}"
        return records

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)
        self._log.close()

    def stderr(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-6000:]


def run_plan(actions: list[dict[str, Any]], env: dict[str, str], log_path: Path) -> list[dict[str, Any]]:
    return IpaDriver(actions, env, log_path).finish()
