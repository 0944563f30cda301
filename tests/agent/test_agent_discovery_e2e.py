"""The agent with the real drivers on fixture trees, against a real server on loopback: the
report, a repeat that changes nothing, VFs changed, a device removed, a host lost and back,
an mdev created by a bind and removed by the unbind, and a token for another host refused."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.agent.loop import Agent
from accord.agent.runner import AgentOptions, build_agent
from accord.agent.sim.builder import SysfsBuilder
from accord.reconcile import reconcile_once
from accord.store.db import Database
from accord.store.models import utcnow
from tests.fixtures.sysfs.hosts import FIXTURES
from tests.live_server import LiveServer, live_server

ACCORD = str(Path(sys.executable).parent / "accord")
ADMIN = {"X-Project-Id": "p-admin", "X-User-Id": "admin", "X-Roles": "admin,service"}


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    env = {"ACCORD_RECONCILE_INTERVAL_S": "0.2"}
    with live_server(tmp_path / "srv", database_url, auth="noauth", env=env) as srv:
        yield srv


def host_tree(tmp_path: Path, fixture: str) -> Path:
    """A private copy of a committed fixture tree (operations change it)."""
    root = tmp_path / fixture
    shutil.copytree(FIXTURES / fixture, root, symlinks=True)
    return root


def agent_for(server: LiveServer, host: str, root: Path, **options: Any) -> Agent:
    return build_agent(
        AgentOptions(server=server.url, hostname=host, sysfs_root=root, simulate=True, **options)
    )


def get(server: LiveServer, path: str) -> Any:
    response = httpx.get(server.url + path, headers={**ADMIN, "OpenStack-API-Version": "accelerator 2.3"})
    assert response.status_code == 200, response.text
    return response.json()


def inventory(server: LiveServer, host: str) -> dict[str, Any]:
    devices = get(server, f"/v2/devices?hostname={host}")["devices"]
    ids = {d["uuid"] for d in devices}
    deployables = [d for d in get(server, "/v2/deployables")["deployables"] if d["device_id"] in ids]
    return {"devices": devices, "deployables": deployables}


def by_address(devices: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    import json

    return {json.loads(d["std_board_info"])["pci_address"]: d for d in devices}


def test_report_repeat_vf_change_and_removal(server: LiveServer, tmp_path: Path) -> None:
    root = host_tree(tmp_path, "qat-nic")
    agent = agent_for(server, "node-q", root, physnets=(("ens1f0", "physnet1"),))
    assert agent.run_once().skipped == []
    first = inventory(server, "node-q")
    devices = by_address(first["devices"])
    # QAT C62x + 4xxx, the E810 and X710 with VFs; never the ConnectX without VFs or the plumbing.
    assert sorted(devices) == ["0000:17:00.0", "0000:18:00.0", "0000:3d:00.0", "0000:6b:00.0"]
    assert {d["type"] for d in devices.values()} == {"QAT", "NIC"}
    accelerators = {d["name"].split("_", 1)[1]: d["num_accelerators"] for d in first["deployables"]}
    assert accelerators == {"0000:17:00.0": 2, "0000:18:00.0": 4, "0000:3d:00.0": 4, "0000:6b:00.0": 2}

    agent.run_once()  # the same host again: nothing changes, not even a timestamp
    assert inventory(server, "node-q") == first

    builder = SysfsBuilder(root)
    builder.enable_vfs("0000:3d:00.0", 8, "c6xxvf")  # an operator enabled more VFs
    agent.run_once()
    changed = {
        d["name"].split("_", 1)[1]: d["num_accelerators"] for d in inventory(server, "node-q")["deployables"]
    }
    assert changed["0000:3d:00.0"] == 8

    builder.enable_vfs("0000:18:00.0", 0)  # the X710's VFs go away: no longer an accelerator
    agent.run_once()
    assert "0000:18:00.0" not in by_address(inventory(server, "node-q")["devices"])


def test_host_lost_then_back(server: LiveServer, tmp_path: Path, database_url: str) -> None:
    agent = agent_for(server, "node-l", host_tree(tmp_path, "qat-nic"))
    agent.run_once()
    lost_after = timedelta(seconds=120)  # the server's default ACCORD_HOST_LOST_AFTER_S
    db = Database(database_url)
    try:
        # A reconcile pass of the server's, on a clock moved just short of, then past, the limit.
        reconcile_once(
            db, lost_after, timedelta(seconds=300), now=utcnow() + lost_after - timedelta(seconds=5)
        )
        assert get(server, "/v2/hosts/node-l")["state"] == "up"
        reconcile_once(
            db, lost_after, timedelta(seconds=300), now=utcnow() + lost_after + timedelta(seconds=1)
        )
        assert get(server, "/v2/hosts/node-l")["state"] == "lost"
    finally:
        db.dispose()
    agent.run_once()
    assert get(server, "/v2/hosts/node-l")["state"] == "up"


def test_mdev_bind_creates_and_unbind_removes(server: LiveServer, tmp_path: Path) -> None:
    root = host_tree(tmp_path, "gpu-mdev")
    agent = agent_for(server, "node-g", root)
    agent.run_once()
    client = httpx.Client(base_url=server.url, headers=ADMIN)
    vgpu = [d for d in get(server, "/v2/deployables")["deployables"] if d["name"].endswith("-nvidia-222")]
    assert len(vgpu) == 1, [d["name"] for d in get(server, "/v2/deployables")["deployables"]]
    rp = vgpu[0]["rp_uuid"]
    assert (
        client.post(
            "/v2/device_profiles", json=[{"name": "vgpu", "groups": [{"resources:VGPU": "1"}]}]
        ).status_code
        == 201
    )
    arq = client.post("/v2/accelerator_requests", json={"device_profile_name": "vgpu"}).json()["arqs"][0][
        "uuid"
    ]
    patch = {
        arq: [
            {"op": "add", "path": "/hostname", "value": "node-g"},
            {"op": "add", "path": "/device_rp_uuid", "value": rp},
            {"op": "add", "path": "/instance_uuid", "value": str(uuid.uuid4())},
        ]
    }
    assert client.patch("/v2/accelerator_requests", json=patch).status_code == 202
    assert get(server, f"/v2/accelerator_requests/{arq}")["state"] == "BindStarted"
    assert agent.run_operations() == 1
    bound = get(server, f"/v2/accelerator_requests/{arq}")
    assert bound["state"] == "Bound"
    assert bound["attach_handle_type"] == "MDEV"
    mdev_uuid = bound["attach_handle_uuid"]
    type_dir = root / "sys/bus/pci/devices/0000:3b:00.0/mdev_supported_types/nvidia-222"
    assert (type_dir / "devices" / mdev_uuid).is_symlink()
    assert (root / "sys/bus/mdev/devices" / mdev_uuid).is_symlink()

    unbind = {
        arq: [
            {"op": "remove", "path": "/hostname"},
            {"op": "remove", "path": "/device_rp_uuid"},
            {"op": "remove", "path": "/instance_uuid"},
        ]
    }
    assert client.patch("/v2/accelerator_requests", json=unbind).status_code == 202
    assert agent.run_operations() == 1
    assert not (root / "sys/bus/mdev/devices" / mdev_uuid).exists()
    assert not (type_dir / "devices" / mdev_uuid).exists()
    kinds = [(o["kind"], o["state"]) for o in get(server, "/v2/operations")["operations"]]
    assert sorted(kinds) == [("create_mdev", "succeeded"), ("remove_mdev", "succeeded")]


def test_agent_token_for_another_host_changes_nothing(tmp_path: Path, database_url: str) -> None:
    root = host_tree(tmp_path, "qat-nic")
    with live_server(tmp_path / "srv", database_url, auth="token") as srv:
        token_b = srv.token("agents", "agent", host="node-b")
        token_a = srv.token("agents", "agent", host="node-a")
        base = [ACCORD, "agent", "--server", srv.url, "--sysfs-root", str(root), "--once", "--simulate"]
        assert (
            subprocess.run(
                [*base, "--host", "node-b", "--token", token_b], capture_output=True, timeout=60
            ).returncode
            == 0
        )
        admin = {"X-Auth-Token": srv.token("p", "admin")}
        before = httpx.get(srv.url + "/v2/devices?hostname=node-b", headers=admin).json()
        builder = SysfsBuilder(root)
        builder.enable_vfs("0000:3d:00.0", 0)
        done = subprocess.run(
            [*base, "--host", "node-b", "--token", token_a], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 4
        assert "may not report for host 'node-b'" in done.stderr
        assert httpx.get(srv.url + "/v2/devices?hostname=node-b", headers=admin).json() == before
