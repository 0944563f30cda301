"""Keystone mode's libraries, the console's template engine, SQLAlchemy's PostgreSQL dialect on
SQLite and pydantic's v1 compatibility package stay out of servers that do not use them (their
memory is the cost)."""

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
LAZY = (
    "keystoneauth1", "requests", "yaml", "accord.keystone", "jinja2",
    "sqlalchemy.dialects.postgresql", "pydantic.v1",
)
# None in sys.modules is an import kept out, not a module loaded
print(",".join(m for m in LAZY if sys.modules.get(m) is not None))
"""


def loaded_by(code: str) -> str:
    """What of LAZY the probe `code` found loaded, comma-separated."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return result.stdout.strip()


@pytest.mark.parametrize("auth", ["noauth", "token"])
def test_noauth_and_token_servers_load_no_keystone_or_yaml(
    tmp_path: Path, migrated: dict[str, str], auth: str
) -> None:
    code = PROBE.format(data_dir=str(tmp_path), url=migrated["sqlite"], auth=auth)
    assert loaded_by(code) == ""


def test_a_policy_file_loads_yaml_only(tmp_path: Path, migrated: dict[str, str]) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text('"cyborg:arq:create": "rule:admin_api"\n')
    code = PROBE.format(data_dir=str(tmp_path), url=migrated["sqlite"], auth="noauth").replace(
        "reconcile_interval_s=0", f"reconcile_interval_s=0, policy_file={str(policy)!r}"
    )
    assert loaded_by(code) == "yaml"


def test_the_console_loads_jinja2_on_its_first_page(tmp_path: Path, migrated: dict[str, str]) -> None:
    code = PROBE.format(data_dir=str(tmp_path), url=migrated["sqlite"], auth="noauth").replace(
        "create_app(settings)\n",
        "from fastapi.testclient import TestClient\n"
        # noauth serves the console to loopback callers only
        "with TestClient(create_app(settings), client=('127.0.0.1', 50000)) as client:\n"
        "    assert client.get('/console').status_code == 200\n",
    )
    assert loaded_by(code) == "jinja2"


def test_a_sqlite_server_takes_its_task_leases_without_the_postgresql_dialect(
    tmp_path: Path, migrated: dict[str, str]
) -> None:
    code = PROBE.format(data_dir=str(tmp_path), url=migrated["sqlite"], auth="noauth").replace(
        "create_app(settings)\n",
        "create_app(settings)\n"
        "from datetime import datetime, timedelta, timezone\n"
        "from accord.store import task_leases\n"
        "from accord.store.db import Database\n"
        f"with Database({migrated['sqlite']!r}).write() as session:\n"
        "    assert task_leases.acquire(\n"
        "        session, 'lazy-probe', 'me', datetime.now(timezone.utc), timedelta(seconds=5)\n"
        "    ) is not None\n",
    )
    assert loaded_by(code) == ""


def test_a_postgresql_server_loads_its_dialect(migrated: dict[str, str], tmp_path: Path) -> None:
    """The other side of the lazy dialect import: it is loaded where it is used."""
    code = PROBE.format(data_dir=str(tmp_path), url=migrated["postgresql"], auth="noauth")
    assert loaded_by(code) == "sqlalchemy.dialects.postgresql"


def test_fastapi_still_refuses_nothing_with_pydantic_v1_kept_out(
    tmp_path: Path, migrated: dict[str, str]
) -> None:
    """FastAPI answers its pydantic.v1 question with "no" when the import fails: the app builds
    and a body route still parses and checks its body."""
    code = PROBE.format(data_dir=str(tmp_path), url=migrated["sqlite"], auth="noauth").replace(
        "create_app(settings)\n",
        "from fastapi.testclient import TestClient\n"
        "headers = {'X-Roles': 'admin', 'X-Project-Id': 'p'}\n"
        "with TestClient(create_app(settings)) as client:\n"
        "    bad = client.post('/v2/device_profiles', json=[{'name': 'x'}], headers=headers)\n"
        "    assert bad.status_code == 400, bad.text\n"
        "    assert 'groups' in bad.json()['error_message']\n"
        "    good = client.post('/v2/device_profiles', headers=headers,\n"
        "        json=[{'name': 'lazy', 'groups': [{'resources:FPGA': '1'}]}])\n"
        "    assert good.status_code == 201, good.text\n",
    )
    assert loaded_by(code) == ""
