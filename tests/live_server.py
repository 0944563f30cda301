"""A real `accord serve` process on a free loopback port, for end-to-end and client tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from accord.api.tokens import TokenStore

ACCORD = str(Path(sys.executable).parent / "accord")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def token(self, project: str, roles: str, user: str | None = None, host: str | None = None) -> str:
        return TokenStore(self.data_dir / "tokens.json").create(project, roles.split(","), user, host)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def interrupt(process: subprocess.Popen[Any], timeout: float = 30) -> None:
    """Ctrl-C, as a person stops `accord up`; killed if it does not end within `timeout`."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# Generous: a loaded 2-core CI machine has taken over 30 s to start a server (the wait ends
# as soon as it answers, so a healthy start costs nothing extra).
def wait_until_up(url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"accord serve exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(url + "/", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"accord serve did not answer within {timeout}s:\n{log_path.read_text()}")


def _spawn(
    data_dir: Path,
    database_url: str,
    auth: str,
    env: dict[str, str] | None,
    port: int | None,
    workers: int,
    config: Path | None,
) -> LiveServer:
    """Start `accord serve` without waiting for it to answer."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = data_dir / f"server-{port}.log"
    full_env = {
        **os.environ,
        "ACCORD_DATA_DIR": str(data_dir),
        "ACCORD_DATABASE_URL": database_url,
        "ACCORD_AUTH": auth,
        **(env or {}),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                ACCORD,
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
                *(["--config", str(config)] if config else []),
            ],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return LiveServer(url, data_dir, process, log_path)


def terminate(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    """SIGTERM, as a service manager stops the server; killed if it does not end within `timeout`."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _stop(server: LiveServer) -> None:
    terminate(server.process)


@contextmanager
def live_server(
    data_dir: Path,
    database_url: str,
    auth: str = "token",
    env: dict[str, str] | None = None,
    port: int | None = None,
    workers: int = 1,
    config: Path | None = None,
) -> Iterator[LiveServer]:
    """`config`: a TOML file passed as `accord serve --config` ([keystone_authtoken], …)."""
    server = _spawn(data_dir, database_url, auth, env, port, workers, config)
    try:
        wait_until_up(server.url, server.process, server.log_path)
        yield server
    finally:
        _stop(server)


@contextmanager
def live_server_pair(
    data_dirs: tuple[Path, Path], database_url: str, auth: str = "token", env: dict[str, str] | None = None
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two replicas on one (already migrated) database, started at once rather than one after
    the other: their start-ups overlap (the second core is otherwise idle while one imports)."""
    first = _spawn(data_dirs[0], database_url, auth, env, None, 1, None)
    try:
        second = _spawn(data_dirs[1], database_url, auth, env, None, 1, None)
        try:
            for server in (first, second):
                wait_until_up(server.url, server.process, server.log_path)
            yield first, second
        finally:
            _stop(second)
    finally:
        _stop(first)


DEMO_HOSTS = {"demo-fpga", "demo-gpu", "demo-net"}


def wait_for_demo_hosts(url: str, timeout: float, poll_s: float = 0.2) -> None:
    """Until `accord up --demo`'s three simulated hosts have reported (over plain HTTP: a CLI
    process per poll would cost ~1 s of CPU); returns at the deadline either way, so the
    caller's own assertions say what was missing."""
    deadline = time.monotonic() + timeout
    admin = {"X-Project-Id": "admin", "X-Roles": "admin,service"}
    while time.monotonic() < deadline:
        try:
            devices = httpx.get(f"{url}/v2/devices", headers=admin, timeout=5).json()["devices"]
        except (httpx.HTTPError, KeyError, ValueError):
            devices = []
        if {d["hostname"] for d in devices} >= DEMO_HOSTS:
            return
        time.sleep(poll_s)
