"""The Placement mirror against a real OpenStack Placement on loopback: the tree Cyborg would
build, traits and inventories, disable/enable, a device removed, Accord restarted, Placement
restarted, drift repaired, Nova's own providers left alone, allocations respected."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.placement.client import PlacementClient, PlacementUnreachable
from accord.placement.mirror import PlacementMirror
from accord.schemas.inventory import InventorySnapshot
from accord.store.db import Database
from accord.store.hardware import set_device_status
from accord.store.inventory import apply_inventory_snapshot
from accord.store.models import Device
from tests.placement.conftest import Placement
from tests.placement_server import PlacementServer, placement_server
from tests.scenarios import fpga_host_snapshot

HOST = "compute-1"


def report(db: Database, snapshot: dict[str, Any]) -> None:
    with db.write() as session:
        apply_inventory_snapshot(session, InventorySnapshot.model_validate(snapshot))


def sync(db: Database, mirror: PlacementMirror) -> Any:
    with db.read() as session:
        return mirror.sync(session)


def test_tree_inventories_and_traits(db: Database, mirror: PlacementMirror, raw: Placement) -> None:
    root = raw.compute_node(HOST)
    report(db, fpga_host_snapshot(HOST, vfs=4, devices=2))
    result = sync(db, mirror)
    assert result.errors == []
    children = raw.children(root)
    assert sorted(children) == [f"{HOST}_0000:5e:00.0", f"{HOST}_0000:60:00.0"]
    for name, provider in children.items():
        assert provider["uuid"] == str(uuid.uuid3(uuid.NAMESPACE_DNS, name))
        assert provider["parent_provider_uuid"] == root
        inventory = raw.inventory(provider["uuid"])["FPGA"]
        assert (inventory["total"], inventory["reserved"], inventory["max_unit"]) == (4, 0, 4)
        assert raw.traits(provider["uuid"]) == {"CUSTOM_FPGA_INTEL", "CUSTOM_FPGA_INTEL_PAC_ARRIA10"}
    assert sorted(result.created) == sorted(children)
    # Converged: the next sync changes nothing.
    assert not sync(db, mirror).changed


def test_host_without_compute_node_is_left_alone(
    db: Database, mirror: PlacementMirror, raw: Placement
) -> None:
    report(db, fpga_host_snapshot("not-in-nova"))
    result = sync(db, mirror)
    assert result.hosts_without_provider == ["not-in-nova"]
    assert raw.http.get("/resource_providers").json()["resource_providers"] == []


def test_disable_reserves_everything_and_enable_gives_it_back(
    db: Database, mirror: PlacementMirror, raw: Placement
) -> None:
    root = raw.compute_node(HOST)
    report(db, fpga_host_snapshot(HOST, vfs=4))
    sync(db, mirror)
    [provider] = raw.children(root).values()
    with db.write() as session:
        device = session.query(Device).one()
        set_device_status(session, device.uuid, "maintaining")
        device_uuid = device.uuid
    assert sync(db, mirror).updated == [provider["name"]]
    assert raw.inventory(provider["uuid"])["FPGA"]["reserved"] == 4
    with db.write() as session:
        set_device_status(session, device_uuid, "enabled")
    sync(db, mirror)
    assert raw.inventory(provider["uuid"])["FPGA"]["reserved"] == 0


def test_removed_device_leaves_no_orphan_and_nova_providers_are_untouched(
    db: Database, mirror: PlacementMirror, raw: Placement
) -> None:
    root = raw.compute_node(HOST)
    # Nova's own nested provider under the same root (a vGPU or NUMA provider): random uuid.
    nova_child = raw.http.post(
        "/resource_providers", json={"name": f"{HOST}_pci_0000_3b_00_0", "parent_provider_uuid": root}
    ).json()["uuid"]
    report(db, fpga_host_snapshot(HOST, vfs=2, devices=2))
    sync(db, mirror)
    report(db, fpga_host_snapshot(HOST, vfs=2, devices=1))
    result = sync(db, mirror)
    assert result.deleted == [f"{HOST}_0000:60:00.0"]
    assert sorted(raw.children(root)) == [f"{HOST}_0000:5e:00.0", f"{HOST}_pci_0000_3b_00_0"]
    assert raw.children(root)[f"{HOST}_pci_0000_3b_00_0"]["uuid"] == nova_child


def test_provider_with_allocations_is_kept_until_they_are_gone(
    db: Database, mirror: PlacementMirror, raw: Placement
) -> None:
    root = raw.compute_node(HOST)
    report(db, fpga_host_snapshot(HOST, vfs=2))
    sync(db, mirror)
    [provider] = raw.children(root).values()
    consumer = str(uuid.uuid4())
    allocation = {
        "allocations": {provider["uuid"]: {"resources": {"FPGA": 1}}},
        "project_id": str(uuid.uuid4()),
        "user_id": str(uuid.uuid4()),
        "consumer_generation": None,
        "consumer_type": "INSTANCE",
    }
    assert raw.http.put(f"/allocations/{consumer}", json=allocation).status_code == 204
    report(db, {"hostname": HOST, "agent_version": "t", "devices": []})
    result = sync(db, mirror)
    assert result.deleted == []
    assert "inuse" in " ".join(result.errors)
    assert provider["name"] in raw.children(root)
    raw.http.delete(f"/allocations/{consumer}")
    assert sync(db, mirror).deleted == [provider["name"]]
    assert raw.children(root) == {}


def test_drift_is_repaired_and_restarts_change_nothing(
    db: Database, mirror: PlacementMirror, raw: Placement, placement: PlacementServer
) -> None:
    root = raw.compute_node(HOST)
    report(db, fpga_host_snapshot(HOST, vfs=4))
    sync(db, mirror)
    [provider] = raw.children(root).values()
    rp = provider["uuid"]
    # Someone edits Placement behind Accord's back.
    generation = raw.http.get(f"/resource_providers/{rp}").json()["generation"]
    raw.http.put(
        f"/resource_providers/{rp}/inventories",
        json={"resource_provider_generation": generation, "inventories": {"FPGA": {"total": 1}}},
    )
    generation = raw.http.get(f"/resource_providers/{rp}").json()["generation"]
    raw.http.put(
        f"/resource_providers/{rp}/traits", json={"resource_provider_generation": generation, "traits": []}
    )
    assert sync(db, mirror).updated == [provider["name"]]
    assert raw.inventory(rp)["FPGA"]["total"] == 4
    assert raw.traits(rp) == {"CUSTOM_FPGA_INTEL", "CUSTOM_FPGA_INTEL_PAC_ARRIA10"}

    # Accord restarted: a new mirror with nothing remembered finds nothing to do.
    fresh = PlacementMirror(PlacementClient(placement.url, "admin"))
    assert not sync(db, fresh).changed
    # Placement restarted: still converged, and the mirror keeps working against it.
    placement.stop()
    placement.start()
    assert not sync(db, fresh).changed
    assert raw.inventory(rp)["FPGA"]["total"] == 4


def test_placement_down_is_an_error_not_a_crash(
    db: Database, raw: Placement, placement: PlacementServer
) -> None:
    report(db, fpga_host_snapshot(HOST))
    mirror = PlacementMirror(PlacementClient("http://127.0.0.1:9", "admin", timeout_s=2))
    with pytest.raises(PlacementUnreachable):
        sync(db, mirror)


def test_a_rebuilt_placement_gets_the_whole_tree_again(
    db: Database, mirror: PlacementMirror, tmp_path: Path
) -> None:
    report(db, fpga_host_snapshot(HOST, vfs=3))
    with placement_server(tmp_path / "first") as first:
        Placement(first).compute_node(HOST)
        same_mirror = PlacementMirror(PlacementClient(first.url, "admin"))
        assert sync(db, same_mirror).created
        port = int(first.url.rsplit(":", 1)[1])
    # The same address, now a new and empty Placement (its database lost): custom traits and
    # classes the mirror made before must be made again.
    with placement_server(tmp_path / "second", port=port) as second:
        raw = Placement(second)
        root = raw.compute_node(HOST)
        with db.read() as session:
            same_mirror.sync(session)
            result = same_mirror.sync(session)
        assert not result.changed
        [provider] = raw.children(root).values()
        assert raw.traits(provider["uuid"]) == {"CUSTOM_FPGA_INTEL", "CUSTOM_FPGA_INTEL_PAC_ARRIA10"}
        assert raw.inventory(provider["uuid"])["FPGA"]["total"] == 3


def test_the_server_mirrors_on_its_own(
    tmp_path: Path, database_url: str, placement: PlacementServer, raw: Placement
) -> None:
    from tests.live_server import live_server

    root = raw.compute_node("node-auto")
    env = {
        "ACCORD_PLACEMENT_URL": placement.url,
        "ACCORD_PLACEMENT_TOKEN": "admin",
        "ACCORD_RECONCILE_INTERVAL_S": "0.3",
    }
    with live_server(tmp_path / "srv", database_url, auth="noauth", env=env) as server:
        admin = {"X-Project-Id": "p", "X-Roles": "admin"}
        httpx.post(
            f"{server.url}/v2/hosts/node-auto/inventory", json=fpga_host_snapshot("node-auto"), headers=admin
        )
        deadline = time.monotonic() + 20
        while not raw.children(root):
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.2)
        assert list(raw.children(root)) == ["node-auto_0000:5e:00.0"]


def test_cli_sync(
    db: Database, database_url: str, placement: PlacementServer, raw: Placement, tmp_path: Path
) -> None:
    import json
    import os
    import subprocess
    import sys

    raw.compute_node(HOST)
    report(db, fpga_host_snapshot(HOST))
    accord = str(Path(sys.executable).parent / "accord")
    env = {
        **os.environ,
        "ACCORD_DATA_DIR": str(tmp_path),
        "ACCORD_DATABASE_URL": database_url,
        "ACCORD_PLACEMENT_URL": placement.url,
        "ACCORD_PLACEMENT_TOKEN": "admin",
    }
    done = subprocess.run([accord, "placement", "sync"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["created"] == [f"{HOST}_0000:5e:00.0"]
    down = subprocess.run(
        [accord, "placement", "sync"],
        env={**env, "ACCORD_PLACEMENT_URL": "http://127.0.0.1:9"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert down.returncode == 7
    assert "unreachable" in down.stderr


class _ReadThenRaced(PlacementClient):
    """A client that, right after the mirror reads a host's tree, lets another writer (a second
    replica's reconcile, `accord placement sync`) run a whole sync: the providers the mirror
    saw missing then exist when it creates them."""

    def __init__(self, url: str, rival: Any) -> None:
        super().__init__(url, "admin")
        self.rival = rival

    def tree(self, root_uuid: str) -> list[dict[str, Any]]:
        seen = super().tree(root_uuid)
        self.rival()
        return seen


def test_a_create_lost_to_a_concurrent_writer_is_not_a_failure(
    db: Database, mirror: PlacementMirror, raw: Placement, placement: PlacementServer
) -> None:
    root = raw.compute_node(HOST)
    report(db, fpga_host_snapshot(HOST, vfs=4, devices=2))
    racing = PlacementMirror(_ReadThenRaced(placement.url, lambda: sync(db, mirror)))
    result = sync(db, racing)
    assert result.errors == []  # was: two placement.duplicate_name errors, exit 5 from the CLI
    assert result.created == []  # the rival created them
    children = raw.children(root)
    assert len(children) == 2
    assert all(raw.inventory(p["uuid"])["FPGA"]["total"] == 4 for p in children.values())
    assert not sync(db, mirror).changed


def test_a_name_taken_by_another_provider_is_still_an_error(
    db: Database, mirror: PlacementMirror, raw: Placement
) -> None:
    root = raw.compute_node(HOST)
    report(db, fpga_host_snapshot(HOST, vfs=4))
    squatter = {"name": f"{HOST}_0000:5e:00.0", "uuid": str(uuid.uuid4()), "parent_provider_uuid": root}
    assert raw.http.post("/resource_providers", json=squatter).status_code == 200
    result = sync(db, mirror)
    assert len(result.errors) == 1 and "duplicate_name" in result.errors[0]
