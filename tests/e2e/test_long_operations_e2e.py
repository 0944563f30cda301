"""Long operations run exactly once: a real server and `accord agent` processes on the simulated
DFL card, with tools that take three times the operation lease.

- Programming and a firmware flash each longer than the lease: the agent's heartbeat renews the
  leases while its workers run the tools, so each runs once and succeeds.
- An agent killed mid-flash: the flash is never started again, neither by a restarted agent
  (its journal) nor by another agent on the host started later; the device is quarantined as
  "flash interrupted" for an operator to decide.
- An operation the server hands back to the agent that already ran it (its lease ran out while
  the agent was cut off) is answered without running the tool again.
- Forty `PATCH …/program` calls waiting on a slow tool leave the server free to answer
  device lists and heartbeats.
"""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.agent.runner import AgentOptions, build_agent
from accord.agent.sim.kernel import tool_runs
from accord.images.formats.build import build_gbs
from accord.store.db import Database
from accord.store.models import utcnow
from accord.store.operations import expire_leases
from tests.e2e.test_firmware_e2e import FACTORY_VERSION, card_version, device_uuid, firmware_image, health
from tests.e2e.test_programming_e2e import HOST, NEW_AFU, Rig, agent_process, open_rig, wait_for
from tests.fixtures.sysfs.hosts import N3000_INTERFACE

LEASE_S = "1"
TOOL_S = "3"  # three leases


def runs_of(rig: Rig, tool: str) -> int:
    return sum(1 for argv in tool_runs(rig.root) if argv[0] == tool)


def operations(rig: Rig, kind: str) -> list[dict[str, Any]]:
    return list(rig.admin.get("/v2/operations", params={"kind": kind}).json()["operations"])


def finished(rig: Rig, kind: str) -> bool:
    return all(op["state"] in ("succeeded", "failed") for op in operations(rig, kind))


@contextmanager
def running(process: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=30)


def test_programming_and_flash_longer_than_the_lease_each_run_once(tmp_path: Path, database_url: str) -> None:
    env = {"ACCORD_OPERATION_LEASE_S": LEASE_S, "ACCORD_BIND_TIMEOUT_S": "120"}
    with open_rig(tmp_path, database_url, **env) as rig, running(agent_process(rig, delay=TOOL_S)):
        dev = device_uuid(rig)
        rig.admin.post(f"/v2/devices/{dev}/disable")
        image = firmware_image(rig, "2.0.0")
        assert rig.admin.post(f"/v2/devices/{dev}/firmware", json={"image_uuid": image}).status_code == 202
        wait_for(lambda: finished(rig, "firmware"))
        [flash] = operations(rig, "firmware")
        assert (flash["state"], flash["attempts"], flash["error"]) == ("succeeded", 1, None)
        assert health(rig)["firmware_version"] == "2.0.0" == card_version(rig)
        assert runs_of(rig, "fpgasupdate") == 1

        rig.admin.post(f"/v2/devices/{dev}/enable")
        rig.image(build_gbs(NEW_AFU, N3000_INTERFACE))
        _, arq = rig.bind(rig.profile(NEW_AFU))
        wait_for(lambda: rig.arq(arq)["state"] != "BindStarted")
        assert rig.arq(arq)["state"] == "Bound"
        [program] = operations(rig, "program")
        assert (program["state"], program["attempts"], program["error"]) == ("succeeded", 1, None)
        assert runs_of(rig, "fpgaconf") == 1


@pytest.mark.parametrize(
    ("lease_s", "comes_back"),
    [(LEASE_S, "another agent, later"), ("60", "the same agent, restarted")],
    ids=["never-returns", "restarts-with-its-journal"],
)
def test_agent_killed_mid_flash_never_flashes_again(
    tmp_path: Path, database_url: str, lease_s: str, comes_back: str
) -> None:
    with open_rig(tmp_path, database_url, ACCORD_OPERATION_LEASE_S=lease_s) as rig:
        dev = device_uuid(rig)
        rig.admin.post(f"/v2/devices/{dev}/disable")
        image = firmware_image(rig, "2.0.0")
        assert rig.admin.post(f"/v2/devices/{dev}/firmware", json={"image_uuid": image}).status_code == 202
        state_dir = tmp_path / "agent-state"
        with running(agent_process(rig, delay="60", state_dir=state_dir)) as slow:
            wait_for(lambda: runs_of(rig, "fpgasupdate") == 1)  # the tool is writing
            slow.send_signal(signal.SIGKILL)
        if comes_back == "another agent, later":
            # The agent stays silent: once its lease runs out the server fails the flash.
            wait_for(lambda: finished(rig, "firmware"))
            state_dir = tmp_path / "another-agent-state"
        later = build_agent(
            AgentOptions(
                server=rig.server.url, hostname=HOST, sysfs_root=rig.root, simulate=True, state_dir=state_dir
            )
        )
        assert later.work is not None
        later.work.recover()  # what `run_forever` does first
        assert later.run_operations() == 0
        [flash] = operations(rig, "firmware")
        assert (flash["state"], flash["attempts"]) == ("failed", 1)
        assert "flash interrupted" in flash["error"]
        state = health(rig)
        assert "flash interrupted" in str(state["quarantine_reason"])
        assert state["health"] == "unusable"
        assert runs_of(rig, "fpgasupdate") == 1
        assert card_version(rig) == FACTORY_VERSION
        assert rig.admin.post(f"/v2/devices/{dev}/enable").status_code == 409  # an operator decides


def test_program_calls_waiting_on_a_slow_tool_leave_the_server_free(
    tmp_path: Path, database_url: str
) -> None:
    # Each PATCH waits up to 10 s; the tool needs 60 s, so all forty wait their whole time. The
    # last of them starts waiting just before the 40 operations are seen below: the reads after
    # that have its 10 s to be answered in (ample even on a loaded machine; 20 s only cost time).
    env = {"ACCORD_PROGRAM_WAIT_S": "10"}
    with open_rig(tmp_path, database_url, **env) as rig, running(agent_process(rig, delay="60")):
        image = rig.image(build_gbs(NEW_AFU, N3000_INTERFACE))
        [dep] = rig.admin.get("/v2/deployables").json()["deployables"]
        body = [{"op": "replace", "path": "/program", "value": [{"image_uuid": image}]}]
        statuses: list[int] = []

        def program() -> None:
            with httpx.Client(base_url=rig.server.url, headers=rig.admin.headers, timeout=120) as client:
                statuses.append(client.patch(f"/v2/deployables/{dep['uuid']}/program", json=body).status_code)

        callers = [threading.Thread(target=program) for _ in range(40)]
        for caller in callers:
            caller.start()
        # Bounded client timeouts only keep a broken server from hanging the test.
        quick = httpx.Client(base_url=rig.server.url, headers=rig.admin.headers, timeout=10)
        wait_for(lambda: len(quick.get("/v2/operations").json()["operations"]) == 40)
        assert quick.get("/v2/devices").status_code == 200
        agent = {"X-User-Id": f"agent-{HOST}", "X-Roles": "agent", "X-Accord-Host": HOST}
        beat = httpx.post(
            f"{rig.server.url}/v2/hosts/{HOST}/heartbeat", json={"hostname": HOST}, headers=agent, timeout=10
        )
        assert beat.status_code == 200, beat.text
        assert len(statuses) < 40  # the answers above came while the callers were still waiting
        for caller in callers:
            caller.join()
        assert statuses == [202] * 40
        assert runs_of(rig, "fpgaconf") == 1  # one region, one tool at a time


def _expire_leases_now(database_url: str) -> None:
    """The reconciler's pass on a clock a whole default lease ahead: the agent went 'silent'."""
    db = Database(database_url)
    try:
        with db.write() as session:
            expire_leases(session, {}, now=utcnow() + timedelta(seconds=121))
    finally:
        db.dispose()


def _run_to_the_end(rig: Rig) -> None:
    work = rig.agent.work
    assert work is not None
    while work.busy:
        work.wake.wait(0.2)
        work.wake.clear()
        work.reap()


@pytest.mark.parametrize("reclaimed", ["while-running", "after-its-result-was-refused"])
def test_operation_handed_out_again_is_not_run_again(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, reclaimed: str
) -> None:
    """The server re-queues a programming whose lease ran out (the agent was cut off from it,
    not dead); the same agent gets it back and answers without running the tool again."""
    monkeypatch.setenv("ACCORD_SIM_TOOL_DELAY_S", "2")
    with open_rig(tmp_path, database_url, ACCORD_RECONCILE_INTERVAL_S="0") as rig:
        work = rig.agent.work
        assert work is not None
        rig.image(build_gbs(NEW_AFU, N3000_INTERFACE))
        _, arq = rig.bind(rig.profile(NEW_AFU))
        assert work.claim() == 1
        _expire_leases_now(database_url)
        if reclaimed == "after-its-result-was-refused":
            _run_to_the_end(rig)  # its result (attempt 1) arrives late: refused, nothing changes
            [op] = operations(rig, "program")
            assert (op["state"], op["attempts"]) == ("pending", 1)
        assert work.claim() == 1  # attempt 2 of the same operation
        _run_to_the_end(rig)
        [op] = operations(rig, "program")
        assert (op["state"], op["attempts"]) == ("succeeded", 2)
        assert rig.arq(arq)["state"] == "Bound"
        assert runs_of(rig, "fpgaconf") == 1
