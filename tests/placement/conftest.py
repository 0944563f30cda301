"""One real Placement per test session (both modules here), emptied after each test; the mirror
that writes to it and raw HTTP for the test's own reads (and for playing Nova)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from accord.placement.client import PlacementClient
from accord.placement.mirror import PlacementMirror
from tests.placement_server import PlacementServer, placement_headers, placement_server


# Session-wide: every test that writes to Placement asks for `raw`, which empties it afterwards,
# so a second module gains nothing from a Placement of its own but its start-up.
@pytest.fixture(scope="session")
def placement(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlacementServer]:
    with placement_server(tmp_path_factory.mktemp("placement")) as server:
        yield server


class Placement:
    """Raw HTTP to Placement, for the test's own reads and for playing Nova."""

    def __init__(self, server: PlacementServer) -> None:
        self.http = httpx.Client(base_url=server.url, headers=placement_headers(), timeout=10)

    def compute_node(self, name: str) -> str:
        found = self.http.get("/resource_providers", params={"name": name}).json()["resource_providers"]
        if found:
            return str(found[0]["uuid"])
        r = self.http.post("/resource_providers", json={"name": name, "uuid": str(uuid.uuid4())})
        assert r.status_code == 200, r.text
        return str(r.json()["uuid"])

    def children(self, root: str) -> dict[str, dict[str, Any]]:
        tree = self.http.get("/resource_providers", params={"in_tree": root}).json()["resource_providers"]
        return {p["name"]: p for p in tree if p["uuid"] != root}

    def inventory(self, rp: str) -> dict[str, Any]:
        return dict(self.http.get(f"/resource_providers/{rp}/inventories").json()["inventories"])

    def traits(self, rp: str) -> set[str]:
        return set(self.http.get(f"/resource_providers/{rp}/traits").json()["traits"])


@pytest.fixture
def raw(placement: PlacementServer) -> Iterator[Placement]:
    client = Placement(placement)
    yield client
    # Each test starts from an empty Placement: delete children, then roots.
    providers = client.http.get("/resource_providers").json()["resource_providers"]
    for provider in sorted(providers, key=lambda p: p["parent_provider_uuid"] is None):
        client.http.delete(f"/allocations/{provider['uuid']}")
        client.http.delete(f"/resource_providers/{provider['uuid']}")


@pytest.fixture
def mirror(placement: PlacementServer) -> PlacementMirror:
    return PlacementMirror(PlacementClient(placement.url, "admin"))
