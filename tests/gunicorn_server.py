"""One real OpenStack WSGI service under gunicorn on a loopback port: what the Placement and
Keystone harnesses share (start, wait for an answer, stop, restart on the same port and data)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import httpx


def tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def require_venv(what: str, make_target: str, executables: list[Path]) -> None:
    missing = [p for p in executables if not p.exists()]
    if missing:
        raise RuntimeError(
            f"OpenStack {what} is not installed ({', '.join(map(str, missing))} missing): "
            f"run `make {make_target}` at the repository root first"
        )


@dataclass
class GunicornService(ABC):
    """Subclasses name the service, its venv's gunicorn, its WSGI arguments and environment."""

    what: ClassVar[str]
    health_path: ClassVar[str] = "/"

    port: int
    log_path: Path
    start_timeout: float = 60
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ)

    @abstractmethod
    def gunicorn(self) -> Path:
        """The service venv's gunicorn."""

    @abstractmethod
    def app_args(self) -> list[str]:
        """The WSGI application (and e.g. `--pythonpath`), after gunicorn's common options."""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def start(self) -> None:
        """Start gunicorn (again) on the same port and data, and wait until it answers."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError(f"{self.what} is already running at {self.url}")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(self.gunicorn()),
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    "1",
                    "--graceful-timeout",
                    "5",
                    # The default control socket is one path per user: two services would clash.
                    "--no-control-socket",
                    *self.app_args(),
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop gunicorn and its worker; the data stays."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def _wait_until_up(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.what} (gunicorn) exited with {self.process.returncode}; "
                    f"log tail ({self.log_path}):\n{tail(self.log_path)}"
                )
            try:
                if httpx.get(self.url + self.health_path, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(
            f"{self.what} did not answer GET {self.health_path} at {self.url} within {self.start_timeout}s; "
            f"log tail ({self.log_path}):\n{tail(self.log_path)}"
        )
