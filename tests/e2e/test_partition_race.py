"""Binds of two vGPU types that exclude each other race for one idle T4 through two server
replicas on one PostgreSQL: exactly one type wins, every bind of the other is refused (409)."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from accord.agent.drivers.nvidia_gpu import NvidiaGpuDriver
from accord.agent.sim.builder import SysfsBuilder
from accord.agent.sim.kernel import SimulatedKernel
from accord.agent.sim.layouts import gpu
from accord.schemas.inventory import InventorySnapshot
from accord.store.db import Database
from accord.store.models import AttachHandle, Deployable
from tests.live_server import live_server_pair

ADMIN = {"X-Project-Id": "p", "X-User-Id": "u", "X-Roles": "admin,service"}
TYPES = ("nvidia-222", "nvidia-223")
PER_TYPE = 4
ROUNDS = 2


def _setup(url: str, root: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    snapshot = InventorySnapshot(
        hostname="host-a", devices=NvidiaGpuDriver(root, SimulatedKernel(root)).discover()
    ).model_dump(mode="json")
    httpx.post(url + "/v2/hosts/host-a/inventory", json=snapshot, headers=ADMIN).raise_for_status()
    rps = {}
    for d in httpx.get(url + "/v2/deployables", headers=ADMIN).json()["deployables"]:
        rps[d["name"].rsplit("-", 2)[-2] + "-" + d["name"].rsplit("-", 1)[-1]] = d["rp_uuid"]
    arqs: dict[str, list[str]] = {}
    for type_id in TYPES:
        trait = "CUSTOM_VGPU_TYPE_" + type_id.upper().replace("-", "_")
        group = {"resources:VGPU": "1", f"trait:{trait}": "required"}
        httpx.post(
            url + "/v2/device_profiles", json=[{"name": type_id, "groups": [group]}], headers=ADMIN
        ).raise_for_status()
        arqs[type_id] = [
            httpx.post(
                url + "/v2/accelerator_requests", json={"device_profile_name": type_id}, headers=ADMIN
            ).json()["arqs"][0]["uuid"]
            for _ in range(PER_TYPE)
        ]
    return rps, arqs


def _bind(url: str, arq: str, rp: str, start: threading.Barrier) -> int:
    ops = [
        {"op": "add", "path": "/hostname", "value": "host-a"},
        {"op": "add", "path": "/device_rp_uuid", "value": rp},
        {"op": "add", "path": "/instance_uuid", "value": str(uuid.uuid4())},
    ]
    start.wait()
    r = httpx.patch(url + "/v2/accelerator_requests", json={arq: ops}, headers=ADMIN, timeout=60)
    if r.status_code >= 400:
        assert "exclude each other" in r.json()["error_message"], r.text
    return r.status_code


def _unbind_all(url: str, arqs: list[str]) -> None:
    ops = [{"op": "remove", "path": p} for p in ("/hostname", "/device_rp_uuid", "/instance_uuid")]
    httpx.patch(
        url + "/v2/accelerator_requests", json={a: ops for a in arqs}, headers=ADMIN
    ).raise_for_status()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_two_replicas_racing_two_exclusive_types_bind_only_one(
    tmp_path: Path, database_url: str, backend: str
) -> None:
    b = SysfsBuilder(tmp_path / "sysfs")
    gpu.tesla_t4_with_vgpu(b)
    env = {"ACCORD_RECONCILE_INTERVAL_S": "0"}
    with live_server_pair((tmp_path / "a", tmp_path / "b"), database_url, auth="noauth", env=env) as (
        first,
        second,
    ):
        rps, arqs = _setup(first.url, b.root)
        urls = [first.url, second.url]
        jobs = [(t, a) for i in range(PER_TYPE) for t in TYPES for a in [arqs[t][i]]]
        winners = set()
        for _ in range(ROUNDS):
            start = threading.Barrier(len(jobs))
            with ThreadPoolExecutor(len(jobs)) as pool:
                futures = [
                    (t, pool.submit(_bind, urls[i % 2], a, rps[t], start)) for i, (t, a) in enumerate(jobs)
                ]
                statuses = {t: [f.result() for tt, f in futures if tt == t] for t in TYPES}
            won = [t for t in TYPES if 202 in statuses[t]]
            assert len(won) == 1, statuses
            winners.add(won[0])
            lost = next(t for t in TYPES if t != won[0])
            assert statuses[won[0]] == [202] * PER_TYPE
            assert statuses[lost] == [409] * PER_TYPE
            db = Database(database_url)
            with db.read() as session:
                held = set(
                    session.scalars(
                        select(Deployable.name).join(AttachHandle).where(AttachHandle.in_use.is_(True))
                    )
                )
            db.dispose()
            assert held == {f"host-a_0000:3b:00.0-{won[0]}"}
            _unbind_all(second.url, [a for a in arqs[won[0]]])
        assert winners <= set(TYPES)
