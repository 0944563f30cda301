"""The real Placement harness works: data written through its API survives a restart."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from tests.placement_server import placement_headers, placement_server


def test_placement_data_survives_a_restart(tmp_path: Path) -> None:
    rp_uuid = str(uuid.uuid4())
    with placement_server(tmp_path) as placement:
        with httpx.Client(base_url=placement.url, headers=placement_headers(), timeout=30) as client:
            root = client.get("/")
            assert root.status_code == 200
            assert root.json()["versions"][0]["max_version"] == "1.39"

            created = client.post("/resource_providers", json={"name": "rp-harness", "uuid": rp_uuid})
            assert created.status_code == 200, created.text  # 1.20+: 200 with the provider's body
            assert created.json()["generation"] == 0

            assert client.put("/traits/CUSTOM_X").status_code == 201
            assert client.put("/resource_classes/CUSTOM_FOO").status_code == 201

            inventories = client.put(
                f"/resource_providers/{rp_uuid}/inventories",
                json={"resource_provider_generation": 0, "inventories": {"CUSTOM_FOO": {"total": 4}}},
            )
            assert inventories.status_code == 200, inventories.text
            assert inventories.json()["resource_provider_generation"] == 1

        placement.stop()
        placement.start()

        with httpx.Client(base_url=placement.url, headers=placement_headers(), timeout=30) as client:
            provider = client.get(f"/resource_providers/{rp_uuid}")
            assert provider.status_code == 200, provider.text
            assert provider.json()["name"] == "rp-harness"
            assert provider.json()["generation"] == 1

            inventory = client.get(f"/resource_providers/{rp_uuid}/inventories/CUSTOM_FOO")
            assert inventory.status_code == 200, inventory.text
            assert inventory.json()["total"] == 4

            assert client.get("/traits/CUSTOM_X").status_code == 204
