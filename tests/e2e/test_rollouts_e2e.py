"""Firmware rollouts end to end: a real server (its reconcile tick advancing the campaign) and the
real agent with the Intel FPGA driver on three simulated DFL hosts, the simulated kernel standing
in for the cards. A bad image stops at the canary; a device in use is waited for; the server is
restarted mid-campaign and carries on; no card is flashed twice; the CLI shows the progress."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from accord.agent.loop import Agent
from accord.agent.runner import AgentOptions, build_agent
from accord.cli.main import app
from accord.images.formats import build_sim_firmware, build_sim_firmware_for
from tests.fixtures.sysfs.hosts import FIXTURES
from tests.live_server import LiveServer, live_server

ADMIN = {"X-Project-Id": "p-admin", "X-User-Id": "admin", "X-Roles": "admin"}
NOVA = {"X-Project-Id": "p-one", "X-User-Id": "alice", "X-Roles": "member", "X-Service-Roles": "service"}
HOSTS = ("fpga-1", "fpga-2", "fpga-3")
PF = "0000:5e:00.0"
MODEL = "Intel FPGA PAC N3000"
FACTORY = "0x23000410010309"
SETTINGS = {"ACCORD_RECONCILE_INTERVAL_S": "0.2", "ACCORD_PROGRAM_WAIT_S": "0"}


def wait_for(check: Callable[[], bool], what: str, deadline_s: float = 30) -> None:
    """Poll until `check` holds; the deadline only turns a hang into a failure, nothing is timed."""
    end = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


class Fleet:
    def __init__(self, tmp_path: Path, database_url: str) -> None:
        self.tmp_path = tmp_path
        self.database_url = database_url
        self.roots = {}
        for host in HOSTS:
            root = tmp_path / host
            shutil.copytree(FIXTURES / "dfl-fpga", root, symlinks=True)
            self.roots[host] = root
        self.stack = ExitStack()
        self.connect(
            self.stack.enter_context(live_server(tmp_path / "srv", database_url, "noauth", SETTINGS))
        )
        for agent in self.agents.values():
            agent.run_once()

    def connect(self, server: LiveServer) -> None:
        self.server = server
        self.admin = httpx.Client(base_url=server.url, headers=ADMIN, timeout=30)
        self.agents: dict[str, Agent] = {
            host: build_agent(AgentOptions(server=server.url, hostname=host, sysfs_root=root, simulate=True))
            for host, root in self.roots.items()
        }

    def restart_server(self) -> None:
        """Stop the server process and start a new one on the same database."""
        for agent in self.agents.values():
            agent.close()
        self.stack.close()
        self.stack = ExitStack()
        self.connect(
            self.stack.enter_context(
                live_server(self.tmp_path / "srv", self.database_url, "noauth", SETTINGS)
            )
        )

    def close(self) -> None:
        for agent in self.agents.values():
            agent.close()
        self.stack.close()

    def device(self, host: str) -> str:
        [device] = self.admin.get(f"/v2/devices?hostname={host}").json()["devices"]
        return str(device["uuid"])

    def card_version(self, host: str) -> str:
        [path] = list(self.roots[host].glob(f"sys/devices/pci0000:5e/{PF}/**/dfl-fme.*/bitstream_id"))
        return path.read_text().strip()

    def image(self, version: str, data: bytes) -> str:
        body = {"name": f"fw-{version}", "kind": "firmware", "version": version}
        image = self.admin.post("/v2/images", json=body).json()["uuid"]
        assert self.admin.put(f"/v2/images/{image}/file", content=data).status_code == 200
        assert self.admin.post(f"/v2/images/{image}/approve").status_code == 200
        return str(image)

    def rollout(self, rollout_uuid: str) -> dict[str, Any]:
        return dict(self.admin.get(f"/v2/firmware_rollouts/{rollout_uuid}").json())

    def step(self, rollout_uuid: str, host: str) -> str:
        return next(d["state"] for d in self.rollout(rollout_uuid)["devices"] if d["host"] == host)

    def run_agents(self) -> list[str]:
        return [host for host, agent in self.agents.items() if agent.run_operations()]

    def drive_to_end(self, rollout_uuid: str) -> dict[str, Any]:
        def ended() -> bool:
            self.run_agents()
            found = self.rollout(rollout_uuid)
            return found["state"] in ("completed", "failed", "aborted") and not (
                found["counts"]["draining"] or found["counts"]["flashing"]
            )

        wait_for(ended, f"rollout {rollout_uuid} to end")
        return self.rollout(rollout_uuid)

    def flashes(self) -> list[str]:
        ops = self.admin.get("/v2/operations?kind=firmware").json()["operations"]
        return sorted(str(o["hostname"]) for o in ops)


@pytest.fixture
def fleet(tmp_path: Path, database_url: str) -> Iterator[Fleet]:
    rig = Fleet(tmp_path, database_url)
    try:
        yield rig
    finally:
        rig.close()


def start(fleet: Fleet, image: str, **options: Any) -> dict[str, Any]:
    body = {"image_uuid": image, "selector": {"type": "FPGA"}, **options}
    r = fleet.admin.post("/v2/firmware_rollouts", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_a_restarted_server_carries_the_campaign_on_and_nothing_is_flashed_twice(fleet: Fleet) -> None:
    image = fleet.image("2.0.0", build_sim_firmware_for(MODEL, "2.0.0"))
    cli = CliRunner()
    started = cli.invoke(
        app,
        ["--url", fleet.server.url, "--json", "firmware", "rollout", image, "--select", "type=FPGA",
         "--canary", "1", "--wave", "1", "--max-failures", "0", "--in-use", "skip"],
    )  # fmt: skip
    assert started.exit_code == 0, started.output
    rollout = json.loads(started.stdout)["uuid"]
    assert fleet.step(rollout, "fpga-2") == "pending"  # the canary goes alone
    assert fleet.agents["fpga-1"].run_operations() == 1
    wait_for(lambda: fleet.step(rollout, "fpga-2") == "flashing", "wave 1 to start")
    fleet.restart_server()
    done = fleet.drive_to_end(rollout)
    assert done["state"] == "completed"
    assert [(d["host"], d["wave"], d["state"]) for d in done["devices"]] == [
        ("fpga-1", 0, "succeeded"),
        ("fpga-2", 1, "succeeded"),
        ("fpga-3", 2, "succeeded"),
    ]
    assert [fleet.card_version(h) for h in HOSTS] == ["2.0.0"] * 3
    assert fleet.flashes() == list(HOSTS)  # one flash per card, none repeated after the restart
    health = [fleet.admin.get(f"/v2/devices/{fleet.device(h)}/health").json() for h in HOSTS]
    assert {h["firmware_version"] for h in health} == {"2.0.0"}
    trail = fleet.admin.get(f"/v2/audit_events?target_uuid={rollout}").json()["audit_events"]
    fpga2 = fleet.device("fpga-2")
    per_device = [(e["action"], e["outcome"]) for e in reversed(trail) if e["device_uuid"] == fpga2]
    assert per_device == [
        ("rollout.drain", "started"),
        ("rollout.flash", "started"),
        ("rollout.verify", "success"),
    ]
    assert trail[0]["action"] == "rollout.complete"
    watched = cli.invoke(app, ["--url", fleet.server.url, "firmware", "rollout-show", rollout, "--watch"])
    assert watched.exit_code == 0, watched.output
    assert "completed" in watched.stdout and "3/3" in watched.stdout
    listed = cli.invoke(app, ["--url", fleet.server.url, "--json", "firmware", "rollouts"])
    assert [r["uuid"] for r in json.loads(listed.stdout)] == [rollout]
    refused = cli.invoke(app, ["--url", fleet.server.url, "firmware", "rollout-pause", rollout])
    assert refused.exit_code == 5  # a completed rollout cannot be paused


def bind_fpga_2(fleet: Fleet, nova: httpx.Client) -> str:
    profile = [{"name": "any", "groups": [{"resources:FPGA": "1"}]}]
    assert fleet.admin.post("/v2/device_profiles", json=profile).status_code == 201
    arq = nova.post("/v2/accelerator_requests", json={"device_profile_name": "any"}).json()["arqs"][0]["uuid"]
    [rp] = [
        d["rp_uuid"]
        for d in fleet.admin.get("/v2/deployables").json()["deployables"]
        if d["device_id"] == fleet.device("fpga-2")
    ]
    bind = [
        {"op": "add", "path": "/hostname", "value": "fpga-2"},
        {"op": "add", "path": "/device_rp_uuid", "value": rp},
        {"op": "add", "path": "/instance_uuid", "value": str(uuid.uuid4())},
    ]
    assert nova.patch("/v2/accelerator_requests", json={arq: bind}).status_code == 202
    return str(arq)


def test_a_bad_image_stops_at_the_canary_and_a_device_in_use_is_waited_for(fleet: Fleet) -> None:
    bad = fleet.image("2.0.0", build_sim_firmware("2.0.0", MODEL, corrupt=True))
    first = start(fleet, bad, canary=1, wave=2, max_failures=5)["uuid"]
    done = fleet.drive_to_end(first)
    assert done["state"] == "failed" and "canary failed" in done["reason"]
    assert [d["state"] for d in done["devices"]] == ["failed", "skipped", "skipped"]
    assert "payload digest does not match" in done["devices"][0]["reason"]
    assert fleet.flashes() == ["fpga-1"]
    assert [fleet.card_version(h) for h in HOSTS] == [FACTORY] * 3

    # The next campaign: the canary card is quarantined (nothing to restore), fpga-2 is in use.
    nova = httpx.Client(base_url=fleet.server.url, headers=NOVA, timeout=30)
    arq = bind_fpga_2(fleet, nova)
    good = fleet.image("2.1.0", build_sim_firmware_for(MODEL, "2.1.0"))
    second = start(fleet, good, canary=0, wave=3, in_use="wait")["uuid"]

    def fpga_3_flashed() -> bool:
        fleet.run_agents()
        return fleet.step(second, "fpga-3") == "succeeded"

    wait_for(fpga_3_flashed, "fpga-3 to be flashed")
    assert fleet.step(second, "fpga-1") == "skipped"
    assert fleet.step(second, "fpga-2") == "draining"  # waits, disabled, for its ARQ to go
    assert fleet.card_version("fpga-2") == FACTORY
    assert nova.delete(f"/v2/accelerator_requests?arqs={arq}").status_code == 204
    done = fleet.drive_to_end(second)
    assert done["state"] == "completed"
    assert [fleet.card_version(h) for h in HOSTS] == [FACTORY, "2.1.0", "2.1.0"]
    assert fleet.flashes() == ["fpga-1", "fpga-2", "fpga-3"]
    nova.close()
