"""Scope is enforced in every auth mode, as Cyborg with enforce_scope and the new defaults;
operators override rules with a policy file (ACCORD_POLICY_FILE or [oslo_policy] policy_file)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from accord.api.app import create_app
from accord.api.tokens import TokenStore
from accord.cli.main import app as cli
from accord.config import ConfigError, load_settings
from accord.store.db import Database
from tests.api.conftest import ADMIN, MEMBER, READER, Api

SYSTEM_ADMIN = {
    "X-User-Id": "u-admin",
    "X-Roles": "admin,manager,member,reader",
    "OpenStack-System-Scope": "all",
}
DOMAIN_ADMIN = {"X-User-Id": "u-dom", "X-Roles": "admin", "X-Domain-Id": "d-other"}


@pytest.mark.parametrize(
    "path",
    ["/v2/devices", "/v2/deployables", "/v2/attributes", "/v2/device_profiles", "/v2/accelerator_requests"],
)
def test_a_system_scoped_admin_is_refused_as_cyborg_does(api: Api, path: str) -> None:
    response = api.as_(SYSTEM_ADMIN).get(path)
    assert response.status_code == 403
    assert "requires a scope of project" in response.json()["error_message"]
    assert api.get(path).status_code == 200  # the project-scoped admin


def test_a_domain_scoped_admin_is_refused(api: Api) -> None:
    response = api.as_(DOMAIN_ADMIN).get("/v2/devices")
    assert response.status_code == 403
    assert "domain scope" in response.json()["error_message"]


def test_a_system_scoped_admin_cannot_write_either(api: Api) -> None:
    body = [{"name": "p-sys", "groups": [{"resources:FPGA": "1"}]}]
    assert api.as_(SYSTEM_ADMIN).post("/v2/device_profiles", json=body).status_code == 403
    assert api.get("/v2/device_profiles", params={"name": "p-sys"}).json()["device_profiles"] == []


def test_token_mode_tokens_are_project_scoped(db: Database, data_dir: Path) -> None:
    settings = load_settings(env={}, data_dir=data_dir, auth="token", reconcile_interval_s=0)
    tokens = TokenStore(settings.tokens_file)
    admin = tokens.create("p-admin", ["admin"])
    with TestClient(create_app(settings, db=db)) as client:
        assert client.get("/v2/devices", headers={"X-Auth-Token": admin}).status_code == 200
        # A system-scope header does not change what a token-file token is.
        headers = {"X-Auth-Token": admin, "OpenStack-System-Scope": "all"}
        assert client.get("/v2/devices", headers=headers).status_code == 200


@pytest.fixture
def overridden(db: Database, data_dir: Path, tmp_path: Path) -> Iterator[tuple[Api, Path]]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "# readers may see the hardware; ARQs may be created by admins only\n"
        '"cyborg:device:get_all": "rule:project_reader_or_admin"\n'
        '"cyborg:arq:create": "rule:admin_api"\n'
    )
    settings = load_settings(
        env={"ACCORD_POLICY_FILE": str(policy)}, data_dir=data_dir, auth="noauth", reconcile_interval_s=0
    )
    with TestClient(create_app(settings, db=db)) as client:
        yield Api(client, ADMIN), policy


def test_a_policy_file_overrides_cyborg_rules(overridden: tuple[Api, Path]) -> None:
    api, _ = overridden
    assert api.as_(READER).get("/v2/devices").status_code == 200
    assert api.as_(READER).get("/v2/deployables").status_code == 403  # not overridden
    assert (
        api.post(
            "/v2/device_profiles", json=[{"name": "dp", "groups": [{"resources:FPGA": "1"}]}]
        ).status_code
        == 201
    )
    refused = api.as_(MEMBER).post("/v2/accelerator_requests", json={"device_profile_name": "dp"})
    assert refused.status_code == 403
    assert refused.json()["error_message"] == "Access was denied to the following resource: cyborg:arq:create"
    assert api.as_(MEMBER).get("/v2/accelerator_requests").json()["arqs"] == []  # nothing stored


def test_a_broken_policy_file_stops_the_app_from_being_built(data_dir: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text('"cyborg:arq:create": "rule:nowhere"\n')
    settings = load_settings(
        env={"ACCORD_POLICY_FILE": str(policy)}, data_dir=data_dir, reconcile_interval_s=0
    )
    with pytest.raises(ConfigError, match="undefined rule"):
        create_app(settings)


def test_policy_list_prints_the_effective_rules(tmp_path: Path) -> None:
    config = tmp_path / "accord.toml"
    config.write_text('[oslo_policy]\npolicy_file = "policy.yaml"\n')
    (tmp_path / "policy.yaml").write_text('"cyborg:device:get_all": "role:reader"\n')
    result = CliRunner().invoke(cli, ["--json", "policy", "list", "--config", str(config)], env={})
    assert result.exit_code == 0, result.output
    rules: dict[str, Any] = {r["name"]: r for r in json.loads(result.output)}
    assert rules["cyborg:device:get_all"]["check_str"] == "role:reader"
    assert rules["cyborg:device:get_all"]["source"] == "policy file"
    assert rules["cyborg:arq:create"]["check_str"] == "rule:project_member_or_service"
    assert rules["cyborg:arq:create"]["scope_types"] == "project"
    assert rules["admin_api"]["check_str"] == "role:admin"

    changed = CliRunner().invoke(
        cli, ["--json", "policy", "list", "--changed", "--config", str(config)], env={}
    )
    assert [r["name"] for r in json.loads(changed.output)] == ["cyborg:device:get_all"]

    (tmp_path / "policy.yaml").write_text('"cyborg:device:get_all": "role:reader or"\n')
    broken = CliRunner().invoke(cli, ["policy", "list", "--config", str(config)], env={})
    assert broken.exit_code == 2
    assert "cyborg:device:get_all" in broken.output
