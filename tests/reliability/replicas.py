"""Server replicas as real `accord serve` processes on fixed loopback ports, which a test can
SIGKILL and start again on the same port (as an orchestrator restarts a pod)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.live_server import ACCORD, free_port, terminate


@dataclass
class Replica:
    name: str
    data_dir: Path
    database_url: str
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        env = {
            **os.environ,
            "ACCORD_DATA_DIR": str(self.data_dir),
            "ACCORD_DATABASE_URL": self.database_url,
            "ACCORD_AUTH": "noauth",
            **self.env,
        }
        with (self.data_dir / f"server-{self.starts}.log").open("wb") as log:
            self.process = subprocess.Popen(
                [ACCORD, "serve", "--port", str(self.port)], env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def wait_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.log()
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready within {timeout}s:\n{self.log()}")

    def ready(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            return False
        try:
            return httpx.get(self.url + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            terminate(self.process, timeout=15)

    def log(self) -> str:
        return "\n".join(
            p.read_text(errors="replace")[-3000:] for p in sorted(self.data_dir.glob("server-*.log"))
        )
