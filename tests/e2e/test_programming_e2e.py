"""Programming on the user's behalf, end to end: a real server and the real agent with the real
Intel FPGA driver on a DFL fixture host, the simulated kernel standing in for the card.

A user binds an ARQ for a function → the agent downloads the approved image, checks it,
programs it, reads the AFU id back → Bound with the right traits; the next bind for the same
function skips programming. Every refusal (tampered blob, unsigned image when signatures are
required, image for another PR interface, unapproved image) happens before the device is
touched, leaves an audit event and leaves the card as it was. An agent killed mid-program
leaves no ARQ in BindStarted and no handle held."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.agent.loop import Agent
from accord.agent.runner import AgentOptions, build_agent
from accord.images.formats.build import build_gbs
from accord.images.signatures import public_key_pem, sign_digest
from tests.fixtures.sysfs.hosts import AFU_NLB0, FIXTURES, N3000_INTERFACE
from tests.live_server import LiveServer, live_server

ACCORD = str(Path(sys.executable).parent / "accord")
ADMIN = {"X-Project-Id": "p-admin", "X-User-Id": "admin", "X-Roles": "admin"}
MEMBER = {"X-Project-Id": "p-one", "X-User-Id": "alice", "X-Roles": "member"}
NOVA = {**MEMBER, "X-Service-Roles": "service"}
HOST = "fpga-1"
PF = "0000:5e:00.0"
NEW_AFU = "f7df405c-bd7a-cf72-22f1-44b0b93acd18"
OTHER_INTERFACE = "00000000-1111-2222-3333-444444444444"


class Rig:
    def __init__(self, server: LiveServer, root: Path) -> None:
        self.server = server
        self.root = root
        self.admin = httpx.Client(base_url=server.url, headers=ADMIN, timeout=30)
        self.nova = httpx.Client(base_url=server.url, headers=NOVA, timeout=30)
        self.agent: Agent = build_agent(
            AgentOptions(server=server.url, hostname=HOST, sysfs_root=root, simulate=True)
        )

    def afu_on_card(self) -> str:
        [afu] = list(self.root.glob(f"sys/devices/pci0000:5e/{PF}/**/dfl-port.*/afu_id"))
        return afu.read_text().strip()

    def image(self, gbs: bytes, approve: bool = True, **fields: Any) -> str:
        body = {"name": f"afu-{uuid.uuid4().hex[:6]}", "kind": "bitstream", **fields}
        image = self.admin.post("/v2/images", json=body).json()["uuid"]
        r = self.admin.put(f"/v2/images/{image}/file", content=gbs)
        assert r.status_code == 200, r.text
        if approve:
            r = self.admin.post(f"/v2/images/{image}/approve")
            assert r.status_code == 200, r.text
        return str(image)

    def profile(self, function_id: str) -> str:
        name = f"fn-{uuid.uuid4().hex[:6]}"
        group = {"resources:FPGA": "1", "accel:function_id": function_id}
        assert (
            self.admin.post("/v2/device_profiles", json=[{"name": name, "groups": [group]}]).status_code
            == 201
        )
        return name

    def rp(self) -> str:
        [dep] = self.admin.get("/v2/deployables").json()["deployables"]
        return str(dep["rp_uuid"])

    def bind(self, profile: str) -> tuple[httpx.Response, str]:
        arq = self.nova.post("/v2/accelerator_requests", json={"device_profile_name": profile}).json()
        arq_uuid = arq["arqs"][0]["uuid"]
        patch = {
            arq_uuid: [
                {"op": "add", "path": "/hostname", "value": HOST},
                {"op": "add", "path": "/device_rp_uuid", "value": self.rp()},
                {"op": "add", "path": "/instance_uuid", "value": str(uuid.uuid4())},
            ]
        }
        return self.nova.patch("/v2/accelerator_requests", json=patch), arq_uuid

    def arq(self, arq_uuid: str) -> dict[str, Any]:
        return dict(self.admin.get(f"/v2/accelerator_requests/{arq_uuid}").json())

    def audit(self, **filters: str) -> list[dict[str, Any]]:
        return list(self.admin.get("/v2/audit_events", params=filters).json()["audit_events"])

    def handles_in_use(self) -> int:
        arqs = self.admin.get("/v2/accelerator_requests").json()["arqs"]
        return sum(1 for a in arqs if a["state"] in ("Bound", "BindStarted"))


def make_rig(tmp_path: Path, database_url: str, **env: str) -> Iterator[Rig]:
    root = tmp_path / "host"
    shutil.copytree(FIXTURES / "dfl-fpga", root, symlinks=True)
    settings = {"ACCORD_RECONCILE_INTERVAL_S": "0.3", "ACCORD_PROGRAM_WAIT_S": "0", **env}
    with live_server(tmp_path / "srv", database_url, auth="noauth", env=settings) as server:
        rig = Rig(server, root)
        rig.agent.run_once()
        yield rig


open_rig = contextmanager(make_rig)


@pytest.fixture
def rig(tmp_path: Path, database_url: str) -> Iterator[Rig]:
    yield from make_rig(tmp_path, database_url)


def test_bind_programs_verifies_and_the_next_bind_skips(rig: Rig) -> None:
    assert rig.afu_on_card() == AFU_NLB0.replace("-", "")
    image = rig.image(build_gbs(NEW_AFU, N3000_INTERFACE))
    profile = rig.profile(NEW_AFU)
    r, first = rig.bind(profile)
    assert r.status_code == 202, r.text
    assert rig.arq(first)["state"] == "BindStarted"
    assert rig.agent.run_operations() == 1
    assert rig.arq(first)["state"] == "Bound"
    assert uuid.UUID(rig.afu_on_card()) == uuid.UUID(NEW_AFU)
    [dep] = rig.admin.get("/v2/deployables").json()["deployables"]
    assert dep["bitstream_id"] == image
    assert "CUSTOM_FPGA_FUNCTION_ID_" + NEW_AFU.replace("-", "").upper() in dep["attributes_list"]
    assert "CUSTOM_FPGA_FUNCTION_ID_" + AFU_NLB0.replace("-", "").upper() not in dep["attributes_list"]
    [op] = rig.admin.get("/v2/operations").json()["operations"]
    assert (op["kind"], op["state"]) == ("program", "succeeded")
    [event] = rig.audit(action="operation.program")
    assert event["outcome"] == "success"
    assert event["image_sha256"] == hashlib.sha256(build_gbs(NEW_AFU, N3000_INTERFACE)).hexdigest()

    r, second = rig.bind(profile)
    assert rig.arq(second)["state"] == "Bound"
    assert rig.agent.run_operations() == 0  # the region already holds the function


def test_tampered_blob_is_refused_by_the_agent_before_programming(rig: Rig) -> None:
    gbs = build_gbs(NEW_AFU, N3000_INTERFACE)
    image = rig.image(gbs)
    blob = rig.server.data_dir / "images" / image
    blob.write_bytes(gbs[:-4] + b"evil")
    _, arq = rig.bind(rig.profile(NEW_AFU))
    assert rig.agent.run_operations() == 1
    got = rig.arq(arq)
    assert got["state"] == "BindFailed"
    [op] = rig.admin.get("/v2/operations").json()["operations"]
    assert op["state"] == "failed"
    assert "sha256" in op["error"] and "not using it" in op["error"]
    assert rig.afu_on_card() == AFU_NLB0.replace("-", "")
    [event] = rig.audit(action="operation.program")
    assert event["outcome"] == "failure"
    assert rig.handles_in_use() == 0


def test_image_for_another_interface_is_refused_at_bind(rig: Rig) -> None:
    rig.image(build_gbs(NEW_AFU, OTHER_INTERFACE))
    r, arq = rig.bind(rig.profile(NEW_AFU))
    assert r.status_code == 409
    assert "PR interface" in r.json()["error_message"]
    assert rig.arq(arq)["state"] == "Initial"
    assert rig.agent.run_operations() == 0
    assert rig.afu_on_card() == AFU_NLB0.replace("-", "")
    assert [e["outcome"] for e in rig.audit(action="arq.bind")] == ["refused"]


def test_unapproved_image_is_refused_at_bind(rig: Rig) -> None:
    rig.image(build_gbs(NEW_AFU, N3000_INTERFACE), approve=False)
    r, _ = rig.bind(rig.profile(NEW_AFU))
    assert r.status_code == 409
    assert "not approved" in r.json()["error_message"]
    assert rig.agent.run_operations() == 0
    assert rig.afu_on_card() == AFU_NLB0.replace("-", "")
    assert [e["outcome"] for e in rig.audit(action="arq.bind")] == ["refused"]


def test_signatures_required(tmp_path: Path, database_url: str) -> None:
    with open_rig(tmp_path, database_url, ACCORD_REQUIRE_SIGNATURES="true") as rig:
        gbs = build_gbs(NEW_AFU, N3000_INTERFACE)
        unsigned = rig.image(gbs, approve=False)
        r = rig.admin.post(f"/v2/images/{unsigned}/approve")
        assert r.status_code == 400
        assert "requires signatures" in r.json()["error_message"]
        assert [e["outcome"] for e in rig.audit(action="image.approve")] == ["refused"]
        r, _ = rig.bind(rig.profile(NEW_AFU))
        assert r.status_code == 409
        assert rig.afu_on_card() == AFU_NLB0.replace("-", "")

        key = Ed25519PrivateKey.generate()
        rig.admin.post("/v2/trusted_keys", json={"name": "release", "public_key": public_key_pem(key)})
        signed = rig.image(gbs, signature=sign_digest(key, hashlib.sha256(gbs).hexdigest()))
        assert rig.admin.get(f"/v2/images/{signed}").json()["state"] == "approved"
        _, arq = rig.bind(rig.profile(NEW_AFU))
        assert rig.agent.run_operations() == 1  # the agent checks the signature itself too
        assert rig.arq(arq)["state"] == "Bound"


def agent_process(rig: Rig, delay: str, state_dir: Path | None = None) -> subprocess.Popen[bytes]:
    """`accord agent` on the rig's simulated host; its journal in `state_dir` (default: one per
    rig, so a restarted agent finds what the killed one started)."""
    state = state_dir or rig.root.parent / "agent-state"
    argv = [ACCORD, "agent", "--server", rig.server.url, "--host", HOST, "--sysfs-root", str(rig.root)]
    env = {**os.environ, "ACCORD_SIM_TOOL_DELAY_S": delay}
    return subprocess.Popen(
        [*argv, "--simulate", "--state-dir", str(state)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(predicate: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.parametrize("agent_returns", [True, False], ids=["agent-restarts", "agent-never-returns"])
def test_agent_killed_mid_program(tmp_path: Path, database_url: str, agent_returns: bool) -> None:
    env = {"ACCORD_OPERATION_LEASE_S": "2", "ACCORD_BIND_TIMEOUT_S": "6"}
    with open_rig(tmp_path, database_url, **env) as rig:
        rig.image(build_gbs(NEW_AFU, N3000_INTERFACE))
        _, arq = rig.bind(rig.profile(NEW_AFU))
        slow = agent_process(rig, delay="30")  # fpgaconf will take 30 s: it dies before that
        try:
            wait_for(lambda: rig.admin.get("/v2/operations").json()["operations"][0]["state"] == "running")
        finally:
            slow.send_signal(signal.SIGKILL)
            slow.wait()
        assert rig.arq(arq)["state"] == "BindStarted"
        if agent_returns:
            fast = agent_process(rig, delay="0")
            try:
                wait_for(lambda: rig.arq(arq)["state"] != "BindStarted")
            finally:
                fast.terminate()
                fast.wait()
            assert rig.arq(arq)["state"] == "Bound"
            [op] = rig.admin.get("/v2/operations").json()["operations"]
            assert op["state"] == "succeeded" and op["attempts"] == 2
            assert uuid.UUID(rig.afu_on_card()) == uuid.UUID(NEW_AFU)
        else:
            wait_for(lambda: rig.arq(arq)["state"] != "BindStarted")
            assert rig.arq(arq)["state"] == "BindFailed"
            assert rig.handles_in_use() == 0
            [op] = rig.admin.get("/v2/operations").json()["operations"]
            assert op["state"] in ("failed", "cancelled"), op
            assert rig.afu_on_card() == AFU_NLB0.replace("-", "")
