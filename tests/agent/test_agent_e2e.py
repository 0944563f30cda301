"""The agent process against a real server on loopback: `--once`, repeated reports, a server
that is down, and operations it cannot carry out (no driver owns the device)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from accord.agent.executor import Executor
from accord.agent.loop import Agent
from accord.agent.reporter import Reporter
from accord.schemas.inventory import DeviceReport
from tests.live_server import free_port, live_server
from tests.scenarios import fpga_host_snapshot

ACCORD = str(Path(sys.executable).parent / "accord")
ADMIN = {"X-Project-Id": "p", "X-Roles": "admin"}


def test_once_reports_the_host_and_exits_zero(tmp_path: Path, database_url: str) -> None:
    with live_server(tmp_path / "srv", database_url, auth="token") as server:
        token = server.token("agents", "agent", host="node-1")
        argv = [
            ACCORD,
            "agent",
            "--server",
            server.url,
            "--host",
            "node-1",
            "--sysfs-root",
            str(tmp_path),
            "--once",
        ]
        done = subprocess.run([*argv, "--token", token], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "reported 0 devices for node-1" in done.stdout
        admin = server.token("p", "admin")
        [host] = httpx.get(server.url + "/v2/hosts", headers={"X-Auth-Token": admin}).json()["hosts"]
        assert (host["name"], host["state"], host["agent_version"]) == ("node-1", "up", "0.1.0")
        # A token bound to another host is refused: exit code 4 and the reason.
        other = server.token("agents", "agent", host="node-2")
        refused = subprocess.run([*argv, "--token", other], capture_output=True, text=True, timeout=60)
        assert refused.returncode == 4
        assert "may not report for host 'node-1'" in refused.stderr


def test_once_against_a_server_that_is_down_fails_clearly(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    argv = [
        ACCORD,
        "agent",
        "--server",
        url,
        "--host",
        "n",
        "--sysfs-root",
        str(tmp_path),
        "--once",
        "--retries",
        "2",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 7
    assert f"cannot reach Accord at {url} after 2 attempts" in done.stderr


def test_operation_for_an_unknown_device_is_reported_failed(tmp_path: Path, database_url: str) -> None:
    """The agent never leaves an operation hanging: what it cannot do, it reports as failed."""
    with live_server(
        tmp_path / "srv",
        database_url,
        auth="noauth",
        env={"ACCORD_RECONCILE_INTERVAL_S": "0", "ACCORD_PROGRAM_WAIT_S": "0"},
    ) as server:
        admin = httpx.Client(base_url=server.url, headers=ADMIN)
        admin.post("/v2/hosts/host-a/inventory", json=fpga_host_snapshot("host-a")).raise_for_status()
        admin.post("/v2/device_profiles", json=[{"name": "dp", "groups": [{"resources:FPGA": "1"}]}])
        [dep] = admin.get("/v2/deployables").json()["deployables"]
        # An admin program request queues work for host-a's agent.
        from accord.store.db import Database
        from accord.store.models import Image

        db = Database(database_url)
        with db.write() as session:
            image = Image(
                name="i", kind="bitstream", state="approved", sha256="00" * 32, function_id="f", parsed={}
            )
            session.add(image)
            session.flush()
            image_uuid = image.uuid
        db.dispose()
        body = [{"op": "replace", "path": "/program", "value": [{"image_uuid": image_uuid}]}]
        queued = httpx.patch(
            f"{server.url}/v2/deployables/{dep['uuid']}/program", json=body, headers=ADMIN, timeout=60
        )
        assert queued.status_code == 202

        reporter = Reporter(server.url, "host-a", retries=1)
        devices: list[DeviceReport] = []
        agent = Agent("host-a", lambda: (devices, []), reporter, execute=Executor([]).execute)
        assert agent.run_operations() == 1
        [op] = admin.get("/v2/operations").json()["operations"]
        assert op["state"] == "failed"
        assert "no driver on this host reports device 0000:5e:00.0" in op["error"]
        # The report that follows an operation is the whole (here: empty) host.
        assert admin.get("/v2/devices?hostname=host-a").json() == {"devices": []}
