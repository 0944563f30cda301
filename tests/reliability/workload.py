"""A bind/unbind/delete workload from clients that fail over between replicas (as behind a load
balancer), and the invariants the store must keep whatever happened to servers or database."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from accord.store.db import Database
from accord.store.models import AcceleratorRequest, AttachHandle, utcnow
from tests.scenarios import fpga_host_snapshot

NOVA = {"X-Project-Id": "p", "X-User-Id": "nova", "X-Roles": "admin,member,service"}
PROFILE = "storm"


@dataclass
class Outcome:
    """One request: what was asked, when it started and ended (monotonic), what came back."""

    action: str
    started: float
    ended: float
    status: int  # 0: no replica answered (connection refused or reset everywhere)
    message: str = ""
    attempts: int = 1  # >1: resent to another replica after a connection failed mid-way


@dataclass
class FailoverClient:
    """Tries the replicas in turn, from a random one, until one answers (any HTTP status)."""

    urls: list[str]
    timeout: float = 30.0
    outcomes: list[Outcome] = field(default_factory=list)
    failovers: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.http = httpx.Client(headers=NOVA, timeout=self.timeout)

    def request(self, action: str, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        started = time.monotonic()
        first = random.randrange(len(self.urls))
        for attempt in range(len(self.urls) * 2):
            url = self.urls[(first + attempt) % len(self.urls)]
            try:
                response = self.http.request(method, url + path, **kwargs)
            except httpx.TransportError:
                with self.lock:
                    self.failovers += 1
                time.sleep(0.05 * attempt)
                continue
            message = response.json().get("error_message", "") if response.status_code >= 400 else ""
            ended = time.monotonic()
            self._record(Outcome(action, started, ended, response.status_code, message, attempt + 1))
            return response
        self._record(Outcome(action, started, time.monotonic(), 0, "no replica answered", len(self.urls) * 2))
        return None

    def _record(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)

    def close(self) -> None:
        self.http.close()


def prepare(url: str, handles: int) -> str:
    """host-a with one FPGA of `handles` VFs and the profile; returns the deployable's rp."""
    with httpx.Client(headers=NOVA, timeout=30) as http:
        http.post(
            url + "/v2/hosts/host-a/inventory", json=fpga_host_snapshot("host-a", vfs=handles)
        ).raise_for_status()
        http.post(
            url + "/v2/device_profiles", json=[{"name": PROFILE, "groups": [{"resources:FPGA": "1"}]}]
        ).raise_for_status()
        return str(http.get(url + "/v2/deployables").json()["deployables"][0]["rp_uuid"])


def bind_cycle(client: FailoverClient, rp: str) -> None:
    """Create an ARQ, bind it as Nova does, then unbind it or delete it by instance, then delete."""
    created = client.request(
        "create", "POST", "/v2/accelerator_requests", json={"device_profile_name": PROFILE}
    )
    if created is None or created.status_code != 201:
        return
    arq = created.json()["arqs"][0]["uuid"]
    instance = str(uuid.uuid4())
    bind = [
        {"op": "add", "path": "/hostname", "value": "host-a"},
        {"op": "add", "path": "/device_rp_uuid", "value": rp},
        {"op": "add", "path": "/instance_uuid", "value": instance},
    ]
    client.request("bind", "PATCH", "/v2/accelerator_requests", json={arq: bind})
    client.request("show", "GET", f"/v2/accelerator_requests/{arq}")
    if random.random() < 0.5:
        unbind = [{"op": "remove", "path": p} for p in ("/hostname", "/device_rp_uuid", "/instance_uuid")]
        client.request("unbind", "PATCH", "/v2/accelerator_requests", json={arq: unbind})
        client.request("delete", "DELETE", f"/v2/accelerator_requests?arqs={arq}")
    else:  # Nova deleting a server: everything of the instance at once
        client.request("delete", "DELETE", f"/v2/accelerator_requests?instance={instance}")


def run_storm(client: FailoverClient, rp: str, workers: int, stop: threading.Event) -> None:
    def worker() -> None:
        while not stop.is_set():
            bind_cycle(client, rp)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join(timeout=120)


def check_invariants(database_url: str, bind_timeout_s: float) -> dict[str, int]:
    """Every ARQ is Bound with exactly one handle or holds none; no handle is held by no ARQ or
    by two; nothing stays BindStarted past the bind timeout. Returns the counts by state."""
    db = Database(database_url)
    try:
        with db.read() as session:
            arqs = list(session.scalars(select(AcceleratorRequest)).unique())
            taken = list(
                session.execute(select(AttachHandle.id, AttachHandle.arq_id).where(AttachHandle.in_use))
            )
            free_but_linked = session.scalar(
                select(func.count())
                .select_from(AttachHandle)
                .where(AttachHandle.in_use.is_(False), AttachHandle.arq_id.is_not(None))
            )
    finally:
        db.dispose()
    by_arq = Counter(arq_id for _, arq_id in taken)
    arq_ids = {a.id for a in arqs}
    states = Counter(a.state for a in arqs)
    for arq in arqs:
        held = by_arq.get(arq.id, 0)
        if arq.state == "Bound":
            assert held == 1, f"Bound ARQ {arq.uuid} holds {held} handles"
        elif arq.state != "BindStarted":
            assert held == 0, f"{arq.state} ARQ {arq.uuid} holds {held} handles"
    assert all(arq_id in arq_ids for arq_id in by_arq), "a handle is held by no ARQ"
    assert free_but_linked == 0, "a free handle still names an ARQ"
    cutoff = utcnow() - timedelta(seconds=bind_timeout_s)
    stuck = [a.uuid for a in arqs if a.state == "BindStarted" and _aware(a.bind_started_at) < cutoff]
    assert not stuck, f"BindStarted past the bind timeout: {stuck}"
    return {**states, "handles_in_use": len(taken)}


def _aware(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.max.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
