"""Concurrent binds against real servers: never one handle twice, Bound == handles taken.

Clients are threads and separate (spawned, so no lock is inherited mid-use) processes; two
server processes also share one database, as replicas behind a load balancer would.
"""

from __future__ import annotations

import multiprocessing
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from accord.store.db import Database
from accord.store.models import AcceleratorRequest, AttachHandle
from tests.live_server import live_server, live_server_pair
from tests.scenarios import fpga_host_snapshot

HANDLES = 5
REQUESTS = 24
ADMIN = {"X-Project-Id": "p", "X-User-Id": "u", "X-Roles": "admin,service"}


def bind_one(url: str, arq_uuid: str, rp: str) -> int:
    ops = [{"op": "add", "path": "/instance_uuid", "value": str(uuid.uuid4())}]
    if rp:  # Nova's form; without rp the scheduler places it (host-less)
        ops += [
            {"op": "add", "path": "/hostname", "value": "host-a"},
            {"op": "add", "path": "/device_rp_uuid", "value": rp},
        ]
    r = httpx.patch(url + "/v2/accelerator_requests", json={arq_uuid: ops}, headers=ADMIN, timeout=60)
    if r.status_code >= 400:
        assert r.json()["error_message"], r.text
    return r.status_code


def _setup(url: str) -> tuple[str, list[str]]:
    httpx.post(
        url + "/v2/hosts/host-a/inventory", json=fpga_host_snapshot("host-a", vfs=HANDLES), headers=ADMIN
    ).raise_for_status()
    httpx.post(
        url + "/v2/device_profiles", json=[{"name": "dp", "groups": [{"resources:FPGA": "1"}]}], headers=ADMIN
    ).raise_for_status()
    rp = httpx.get(url + "/v2/deployables", headers=ADMIN).json()["deployables"][0]["rp_uuid"]
    arqs = []
    for _ in range(REQUESTS):
        r = httpx.post(url + "/v2/accelerator_requests", json={"device_profile_name": "dp"}, headers=ADMIN)
        arqs.append(r.json()["arqs"][0]["uuid"])
    return rp, arqs


def _check(url: str, database_url: str, statuses: list[int], hostless: bool) -> None:
    arqs = httpx.get(url + "/v2/accelerator_requests", headers=ADMIN).json()["arqs"]
    states = [a["state"] for a in arqs]
    bound = [a for a in arqs if a["state"] == "Bound"]
    assert states.count("Bound") == HANDLES
    if hostless:  # losers are told at once (409) and their ARQs stay untouched
        assert sorted(statuses) == [202] * HANDLES + [409] * (REQUESTS - HANDLES)
        assert states.count("Initial") == REQUESTS - HANDLES
    else:  # Nova's form: every patch is accepted and the losers end BindFailed
        assert statuses == [202] * REQUESTS
        assert states.count("BindFailed") == REQUESTS - HANDLES
    assert len({a["attach_handle_uuid"] for a in bound}) == HANDLES
    db = Database(database_url)
    with db.read() as session:
        in_use = session.scalar(
            select(func.count()).select_from(AttachHandle).where(AttachHandle.in_use.is_(True))
        )
        holders = list(session.scalars(select(AttachHandle.arq_id).where(AttachHandle.in_use.is_(True))))
        bound_rows = session.scalar(
            select(func.count()).select_from(AcceleratorRequest).where(AcceleratorRequest.state == "Bound")
        )
    db.dispose()
    assert in_use == bound_rows == HANDLES
    assert len(set(holders)) == HANDLES


@pytest.mark.parametrize("hostless", [False, True], ids=["nova-bind", "hostless-bind"])
def test_threads_and_processes_never_double_book(tmp_path: Path, database_url: str, hostless: bool) -> None:
    with live_server(
        tmp_path / "a", database_url, auth="noauth", env={"ACCORD_RECONCILE_INTERVAL_S": "0"}
    ) as server:
        rp, arqs = _setup(server.url)
        rp = "" if hostless else rp
        half = REQUESTS // 2
        with (
            ThreadPoolExecutor(12) as threads,
            ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as processes,
        ):
            thread_results = [threads.submit(bind_one, server.url, a, rp) for a in arqs[:half]]
            process_results = [processes.submit(bind_one, server.url, a, rp) for a in arqs[half:]]
            statuses = [f.result() for f in thread_results + process_results]
        _check(server.url, database_url, statuses, hostless)


@pytest.mark.parametrize("hostless", [False, True], ids=["nova-bind", "hostless-bind"])
def test_two_server_replicas_never_double_book(tmp_path: Path, database_url: str, hostless: bool) -> None:
    env = {"ACCORD_RECONCILE_INTERVAL_S": "0"}
    with live_server_pair((tmp_path / "a", tmp_path / "b"), database_url, auth="noauth", env=env) as (
        first,
        second,
    ):
        rp, arqs = _setup(first.url)
        rp = "" if hostless else rp
        urls = [first.url, second.url]
        with ThreadPoolExecutor(12) as pool:
            statuses = list(pool.map(lambda i: bind_one(urls[i % 2], arqs[i], rp), range(REQUESTS)))
        _check(second.url, database_url, statuses, hostless)
