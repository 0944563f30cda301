"""ACCORD_AUTH=token: bearer tokens from the token file, 401 without, Nova's service token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from accord.api.app import create_app
from accord.api.tokens import TokenStore
from accord.config import load_settings
from accord.store.db import Database
from tests.scenarios import fpga_host_snapshot


@pytest.fixture
def token_client(db: Database, data_dir: Path) -> Iterator[tuple[TestClient, TokenStore]]:
    settings = load_settings(env={}, data_dir=data_dir, auth="token", reconcile_interval_s=0)
    with TestClient(create_app(settings, db=db)) as client:
        yield client, TokenStore(settings.tokens_file)


def test_no_token_is_401_and_versions_stay_open(token_client: tuple[TestClient, TokenStore]) -> None:
    client, _ = token_client
    assert client.get("/").status_code == 200
    assert client.get("/v2").status_code == 200
    r = client.get("/v2/device_profiles")
    assert r.status_code == 401
    assert "Authentication required" in r.json()["error_message"]
    assert client.get("/v2/device_profiles", headers={"X-Auth-Token": "bogus"}).status_code == 401


def test_bearer_and_x_auth_token_both_work(token_client: tuple[TestClient, TokenStore]) -> None:
    client, tokens = token_client
    admin = tokens.create("p-admin", ["admin"])
    assert client.get("/v2/devices", headers={"Authorization": f"Bearer {admin}"}).status_code == 200
    assert client.get("/v2/devices", headers={"X-Auth-Token": admin}).status_code == 200


def test_token_file_stores_no_usable_secret(token_client: tuple[TestClient, TokenStore]) -> None:
    _, tokens = token_client
    secret = tokens.create("p", ["member"])
    assert secret not in tokens.path.read_text()
    assert oct(tokens.path.stat().st_mode & 0o777) == "0o600"


def test_service_token_grants_bind_to_a_member(token_client: tuple[TestClient, TokenStore]) -> None:
    client, tokens = token_client
    admin, user, service = (
        tokens.create("pa", ["admin"]),
        tokens.create("p1", ["member"]),
        tokens.create("svc", ["service"]),
    )
    client.post(
        "/v2/hosts/host-a/inventory", json=fpga_host_snapshot("host-a"), headers={"X-Auth-Token": admin}
    )
    client.post(
        "/v2/device_profiles",
        json=[{"name": "dp", "groups": [{"resources:FPGA": "1"}]}],
        headers={"X-Auth-Token": admin},
    )
    rp = client.get("/v2/deployables", headers={"X-Auth-Token": admin}).json()["deployables"][0]["rp_uuid"]
    arq = client.post(
        "/v2/accelerator_requests", json={"device_profile_name": "dp"}, headers={"X-Auth-Token": user}
    ).json()["arqs"][0]
    body = {
        arq["uuid"]: [
            {"op": "add", "path": "/hostname", "value": "host-a"},
            {"op": "add", "path": "/device_rp_uuid", "value": rp},
            {"op": "add", "path": "/instance_uuid", "value": "3f0c8b8e-8f1a-4c43-a3a4-6b1f9a5f0c11"},
        ]
    }
    r = client.patch("/v2/accelerator_requests", json=body, headers={"X-Auth-Token": user})
    assert r.status_code == 403
    assert (
        client.patch(
            "/v2/accelerator_requests", json=body, headers={"X-Auth-Token": user, "X-Service-Token": "nope"}
        ).status_code
        == 401
    )
    r = client.patch(
        "/v2/accelerator_requests", json=body, headers={"X-Auth-Token": user, "X-Service-Token": service}
    )
    assert r.status_code == 202
    got = client.get(f"/v2/accelerator_requests/{arq['uuid']}", headers={"X-Auth-Token": user}).json()
    assert got["state"] == "Bound"


def test_agent_token_reports_only_for_its_host(token_client: tuple[TestClient, TokenStore]) -> None:
    client, tokens = token_client
    agent = tokens.create("agents", ["agent"], host="host-a")
    ok = client.post(
        "/v2/hosts/host-a/inventory", json=fpga_host_snapshot("host-a"), headers={"X-Auth-Token": agent}
    )
    assert ok.status_code == 200
    r = client.post(
        "/v2/hosts/host-b/inventory", json=fpga_host_snapshot("host-b"), headers={"X-Auth-Token": agent}
    )
    assert r.status_code == 403
    assert client.get("/v2/devices", headers={"X-Auth-Token": agent}).status_code == 403
