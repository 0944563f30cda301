"""Run `drive_cyborg.py` with `.venv-nova`'s python and read its JSON lines as they come."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent.parent
NOVA_PYTHON = REPO / ".venv-nova" / "bin" / "python"
DRIVER = Path(__file__).resolve().parent / "drive_cyborg.py"


class NovaDriver:
    """One run of the driver over a plan. `next()` returns the next step's record; `finish()`
    the remaining ones once the driver exited 0."""

    def __init__(self, plan: dict[str, Any], log_path: Path) -> None:
        if not NOVA_PYTHON.exists():
            raise RuntimeError(f"{NOVA_PYTHON} is missing: run `make nova` at the repository root first")
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [str(NOVA_PYTHON), str(DRIVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(plan))
        self.process.stdin.close()
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next(self, timeout: float = 120) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.process.kill()
            raise AssertionError(f"the Nova driver said nothing for {timeout}s:\n{self.stderr()}") from None
        if line is None:
            raise AssertionError(f"the Nova driver ended early (rc {self.process.wait()}):\n{self.stderr()}")
        record: dict[str, Any] = json.loads(line)
        return record

    def finish(self, timeout: float = 120) -> list[dict[str, Any]]:
        records = []
        while True:
            line = self.lines.get(timeout=timeout)
            if line is None:
                break
            records.append(json.loads(line))
        rc = self.process.wait(timeout=timeout)
        self._log.close()
        assert rc == 0, f"the Nova driver exited {rc}:\n{self.stderr()}"
        return records

    def stderr(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-6000:]


def run_plan(plan: dict[str, Any], log_path: Path) -> list[dict[str, Any]]:
    return NovaDriver(plan, log_path).finish()
