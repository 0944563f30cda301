"""API test fixtures: an in-process client per backend and per caller, and named scenarios."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from accord.api.app import create_app
from accord.config import load_settings
from accord.store.db import Database
from tests.scenarios import fpga_host_snapshot

ADMIN = {"X-Project-Id": "p-admin", "X-User-Id": "u-admin", "X-Roles": "admin"}
MEMBER = {"X-Project-Id": "p-one", "X-User-Id": "u-one", "X-Roles": "member"}
OTHER_MEMBER = {"X-Project-Id": "p-two", "X-User-Id": "u-two", "X-Roles": "member"}
READER = {"X-Project-Id": "p-one", "X-User-Id": "u-reader", "X-Roles": "reader"}
# Nova: the user's own token plus a service token.
NOVA = {**MEMBER, "X-Service-Roles": "service"}
AGENT_A = {"X-User-Id": "agent-a", "X-Roles": "agent", "X-Accord-Host": "host-a"}


class Api:
    """A TestClient with a default caller; `api.as_(headers)` switches caller."""

    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def as_(self, headers: dict[str, str]) -> Api:
        return Api(self.client, headers)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> Any:
        return self.request("PATCH", path, **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)


@pytest.fixture
def app_settings(data_dir: Path) -> Any:
    return load_settings(env={}, data_dir=data_dir, auth="noauth", reconcile_interval_s=0)


@pytest.fixture
def client(db: Database, app_settings: Any) -> Iterator[TestClient]:
    app = create_app(app_settings, db=db)
    with TestClient(app, base_url="http://accord.test") as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client, ADMIN)


@pytest.fixture
def one_fpga_host(api: Api) -> dict[str, Any]:
    """host-a with one Intel FPGA PF and 4 VF attach handles (one deployable)."""
    snapshot = fpga_host_snapshot("host-a", vfs=4)
    response = api.post("/v2/hosts/host-a/inventory", json=snapshot)
    assert response.status_code == 200, response.text
    deployable = api.get("/v2/deployables").json()["deployables"][0]
    return {"snapshot": snapshot, "deployable": deployable, "rp_uuid": deployable["rp_uuid"]}


@pytest.fixture
def profile(api: Api) -> dict[str, Any]:
    body = [{"name": "fpga1", "groups": [{"resources:FPGA": "1", "trait:CUSTOM_FPGA_INTEL": "required"}]}]
    response = api.post("/v2/device_profiles", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())
