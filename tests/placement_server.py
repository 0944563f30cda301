"""A real OpenStack Placement (openstack-placement 16.0) on a free loopback port, for integration tests.

Placement runs from its own venv, `.venv-placement` (`make placement` builds it), under gunicorn with
noauth2: the token `admin` is an admin context. Its data is one SQLite file in the test's folder, so
`stop()` then `start()` restarts it on the same port with its data intact.

Learned by running it: the config file must be named `placement.conf` (the WSGI app reads
`$OS_PLACEMENT_CONFIG_DIR/placement.conf`), while `placement-manage` ignores that variable and needs
`--config-file`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.live_server import free_port

REPO = Path(__file__).resolve().parent.parent
PLACEMENT_VENV = REPO / ".venv-placement"
PLACEMENT_BIN = PLACEMENT_VENV / "bin"
WSGI_APP = "placement.wsgi.api:application"
MAX_MICROVERSION = "1.39"

CONFIG = """\
[DEFAULT]
debug = false

[api]
auth_strategy = noauth2

[placement_database]
connection = sqlite:///{db_path}

[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
"""


def placement_headers(microversion: str = MAX_MICROVERSION) -> dict[str, str]:
    """Headers for an admin request at the given microversion (noauth2 takes `admin` as admin)."""
    return {"X-Auth-Token": "admin", "OpenStack-API-Version": f"placement {microversion}"}


def _require_venv() -> None:
    missing = [p for p in (PLACEMENT_BIN / "gunicorn", PLACEMENT_BIN / "placement-manage") if not p.exists()]
    if missing:
        raise RuntimeError(
            f"OpenStack Placement is not installed ({', '.join(map(str, missing))} missing): "
            "run `make placement` at the repository root first"
        )


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


@dataclass
class PlacementServer:
    port: int
    config_dir: Path
    log_path: Path
    start_timeout: float = 60
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "OS_PLACEMENT_CONFIG_DIR": str(self.config_dir)}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def start(self) -> None:
        """Start gunicorn (again) on the same port and SQLite file, and wait until `GET /` answers."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError(f"Placement is already running at {self.url}")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(PLACEMENT_BIN / "gunicorn"),
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    "1",
                    "--graceful-timeout",
                    "5",
                    # The default control socket is one path per user: two Placements would clash.
                    "--no-control-socket",
                    WSGI_APP,
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
        """Stop gunicorn and its worker; the SQLite file stays."""
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
                    f"Placement (gunicorn) exited with {self.process.returncode}; "
                    f"log tail ({self.log_path}):\n{_tail(self.log_path)}"
                )
            try:
                if httpx.get(self.url + "/", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(
            f"Placement did not answer GET / at {self.url} within {self.start_timeout}s; "
            f"log tail ({self.log_path}):\n{_tail(self.log_path)}"
        )


def _db_sync(config_file: Path, env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(PLACEMENT_BIN / "placement-manage"), "--config-file", str(config_file), "db", "sync"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"placement-manage db sync failed with {result.returncode}:\n{result.stdout}{result.stderr}"
        )


@contextmanager
def placement_server(tmp_dir: Path, port: int | None = None) -> Iterator[PlacementServer]:
    """A running Placement whose config, SQLite database and log live in `tmp_dir`."""
    _require_venv()
    tmp_dir.mkdir(parents=True, exist_ok=True)
    config_file = tmp_dir / "placement.conf"
    config_file.write_text(CONFIG.format(db_path=tmp_dir / "placement.sqlite"))
    server = PlacementServer(port or free_port(), tmp_dir, tmp_dir / "placement.log")
    _db_sync(config_file, server.env)
    try:
        server.start()
        yield server
    finally:
        server.stop()
