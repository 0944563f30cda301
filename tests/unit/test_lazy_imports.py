"""Keystone mode's libraries, and the console's template engine, stay out of servers that do not
use them (their memory is the cost)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import sys
from accord.api.app import create_app
from accord.config import load_settings
settings = load_settings(
    env={{}}, data_dir={data_dir!r}, database_url={url!r}, auth={auth!r}, reconcile_interval_s=0
)
create_app(settings)
LAZY = ("keystoneauth1", "requests", "yaml", "accord.keystone", "jinja2")
print(",".join(m for m in LAZY if m in sys.modules))
"""


@pytest.mark.parametrize("auth", ["noauth", "token"])
def test_noauth_and_token_servers_load_no_keystone_or_yaml(
    tmp_path: Path, migrated: dict[str, str], auth: str
) -> None:
    code = PROBE.format(data_dir=str(tmp_path), url=migrated["sqlite"], auth=auth)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == ""


def test_a_policy_file_loads_yaml_only(tmp_path: Path, migrated: dict[str, str]) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text('"cyborg:arq:create": "rule:admin_api"\n')
    code = PROBE.format(data_dir=str(tmp_path), url=migrated["sqlite"], auth="noauth").replace(
        "reconcile_interval_s=0", f"reconcile_interval_s=0, policy_file={str(policy)!r}"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "yaml"


def test_the_console_loads_jinja2_on_its_first_page(tmp_path: Path, migrated: dict[str, str]) -> None:
    code = PROBE.format(data_dir=str(tmp_path), url=migrated["sqlite"], auth="noauth").replace(
        "create_app(settings)\n",
        "from fastapi.testclient import TestClient\n"
        # noauth serves the console to loopback callers only
        "with TestClient(create_app(settings), client=('127.0.0.1', 50000)) as client:\n"
        "    assert client.get('/console').status_code == 200\n",
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "jinja2"
