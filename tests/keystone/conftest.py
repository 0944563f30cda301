"""Keystone-mode tests share one real Keystone per session (tests/keystone_server.py) and, per
module and backend, one `accord serve` in keystone mode on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.store.db import Database
from tests.compat.hardware import Hardware, report_fpga_host
from tests.conftest import BACKENDS, _wipe
from tests.keystone_server import KeystoneCloud
from tests.live_server import LiveServer, live_server


def toml_table(name: str, values: dict[str, Any]) -> str:
    lines = [f"[{name}]"]
    for key, value in values.items():
        lines.append(f"{key} = {json.dumps(value)}")  # JSON strings, lists, numbers and bools are TOML too
    return "\n".join(lines) + "\n"


def write_config(path: Path, cloud: KeystoneCloud, policy_file: Path | None = None, **options: Any) -> Path:
    # One retry keeps the 503 of a Keystone outage quick in tests (the default is 3, with backoff).
    text = toml_table("keystone_authtoken", cloud.authtoken_options(http_request_max_retries=1, **options))
    if policy_file is not None:
        text += toml_table("oslo_policy", {"policy_file": str(policy_file)})
    path.write_text(text)
    return path


@dataclass
class KeystoneAccord:
    """An Accord in keystone mode, a static admin token for setup, and the reported hardware."""

    server: LiveServer
    cloud: KeystoneCloud
    database_url: str
    static_admin: str
    hardware: Hardware

    @property
    def url(self) -> str:
        return self.server.url

    def as_(self, user: str, scope: str = "project", **headers: str) -> httpx.Client:
        token = self.cloud.token(user, scope)
        return httpx.Client(base_url=self.url, headers={"X-Auth-Token": token, **headers}, timeout=30)

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@contextmanager
def keystone_accord(
    cloud: KeystoneCloud, data_dir: Path, database_url: str, config: Path
) -> Iterator[KeystoneAccord]:
    with live_server(data_dir, database_url, auth="keystone", config=config) as server:
        cloud.register_accelerator(server.url)
        static_admin = server.token("static-admin", "admin")
        hardware = report_fpga_host(server, static_admin, vfs=4)
        yield KeystoneAccord(server, cloud, database_url, static_admin, hardware)


@pytest.fixture(scope="module", params=BACKENDS)
def accord(
    request: pytest.FixtureRequest,
    keystone: KeystoneCloud,
    migrated: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[KeystoneAccord]:
    """One Accord per module and backend, in keystone mode with keystonemiddleware's defaults."""
    url = migrated[str(request.param)]
    database = Database(url)
    _wipe(database)
    database.dispose()
    tmp = tmp_path_factory.mktemp(f"accord-keystone-{request.param}")
    with keystone_accord(keystone, tmp / "data", url, write_config(tmp / "accord.toml", keystone)) as running:
        yield running
