"""A driver script run with another venv's python (OpenStack pieces whose pins clash with
Accord's): it reads one JSON document on stdin and answers one JSON line per step, read here as
they come so a test can act between steps."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


class VenvDriver:
    """One run of `script` under `python` over `plan`. `next()` returns the next step's record;
    `finish()` the remaining ones once the script exited 0."""

    name = "driver"

    def __init__(
        self,
        python: Path,
        script: Path,
        plan: dict[str, Any],
        log_path: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        if not python.exists():
            raise RuntimeError(f"{python} is missing: build its venv with make at the repository root first")
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [str(python), str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=None if env is None else {**os.environ, **env},
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
            raise AssertionError(f"the {self.name} said nothing for {timeout}s:\n{self.stderr()}") from None
        if line is None:
            raise AssertionError(f"the {self.name} ended early (rc {self.process.wait()}):\n{self.stderr()}")
        record: dict[str, Any] = json.loads(line)
        return record

    def finish(self, timeout: float = 180) -> list[dict[str, Any]]:
        records = []
        while True:
            line = self.lines.get(timeout=timeout)
            if line is None:
                break
            records.append(json.loads(line))
        rc = self.process.wait(timeout=timeout)
        self._log.close()
        assert rc == 0, f"the {self.name} exited {rc}:\n{self.stderr()}"
        return records

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)
        self._log.close()

    def stderr(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-6000:]
