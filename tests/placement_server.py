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
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from tests.gunicorn_server import GunicornService, require_venv
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
    require_venv("Placement", "placement", [PLACEMENT_BIN / "gunicorn", PLACEMENT_BIN / "placement-manage"])


@dataclass
class PlacementServer(GunicornService):
    what: ClassVar[str] = "Placement"
    config_dir: Path = Path()

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "OS_PLACEMENT_CONFIG_DIR": str(self.config_dir)}

    def gunicorn(self) -> Path:
        return PLACEMENT_BIN / "gunicorn"

    def app_args(self) -> list[str]:
        return [WSGI_APP]


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
    server = PlacementServer(port or free_port(), tmp_dir / "placement.log", config_dir=tmp_dir)
    _db_sync(config_file, server.env)
    try:
        server.start()
        yield server
    finally:
        server.stop()
