"""README's "Using it" tour, run as written against `accord up --demo`: its shell blocks are read
out of README.md and run in order by bash, so the README cannot drift from what Accord does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.live_server import ACCORD, free_port, interrupt, wait_for_demo_hosts

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"
ADMIN = {"X-Project-Id": "admin", "X-Roles": "admin,service", "OpenStack-API-Version": "accelerator 2.3"}
# what the test reads back after the tour, by the tour's own shell variables
FACTS = ("ARQ", "ARQ2", "VGPU", "N3000", "IMAGE", "FIRMWARE", "FW_VERSION")


def walkthrough_blocks() -> list[str]:
    text = README.read_text()
    section = text.split("\n## Using it\n", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def tour_script(port: int) -> str:
    lines = ["set -euo pipefail"]
    for block in walkthrough_blocks():
        for line in block.splitlines():
            if line.startswith("make run"):
                continue  # the test starts the demo itself, on a free port
            lines.append(line.replace("127.0.0.1:6666", f"127.0.0.1:{port}"))
    lines += [f'echo "FACT {name}=${{{name}}}"' for name in FACTS]
    return "\n".join(lines) + "\n"


def test_the_readme_names_the_whole_tour() -> None:
    blocks = walkthrough_blocks()
    assert blocks[0].strip() == "make run RUN_ARGS=--demo"
    tour = "\n".join(blocks)
    for step in (
        "accord profile create",
        "accord arq create",
        "accord schedule",
        "--rp",
        "accord image sample gbs",
        "accord deployable program",
        "accord image sample firmware",
        "accord firmware rollout",
        "accord audit list",
        "resources:VGPU",
    ):
        assert step in tour, step


def test_the_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "ACCORD_DATA_DIR": str(tmp_path / "data"),
        "ACCORD_DATABASE_URL": "",
        "ACCORD_AUTH": "noauth",
        "ACCORD_URL": url,
        "ACCORD_RECONCILE_INTERVAL_S": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "COLUMNS": "120",
    }
    with (tmp_path / "up.log").open("wb") as log:
        server = subprocess.Popen(
            [ACCORD, "up", "--demo", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for_demo_hosts(url, timeout=90, poll_s=0.5)
        tour = subprocess.run(
            ["bash", "-c", tour_script(port)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert tour.returncode == 0, f"{tour.stdout}\n{tour.stderr}\n{(tmp_path / 'up.log').read_text()}"
        facts = dict(re.findall(r"^FACT (\w+)=(.*)$", tour.stdout, re.M))

        def get(path: str) -> dict[str, object]:
            answer = httpx.get(url + path, headers=ADMIN, timeout=10)
            assert answer.status_code == 200, (path, answer.text)
            return dict(answer.json())

        # the vGPU bind ended Bound, with a mediated device as its handle
        vgpu = get(f"/v2/accelerator_requests/{facts['VGPU']}")
        assert (vgpu["state"], vgpu["attach_handle_type"]) == ("Bound", "MDEV")
        # the FPGA requests were deleted
        for arq in (facts["ARQ"], facts["ARQ2"]):
            assert httpx.get(f"{url}/v2/accelerator_requests/{arq}", headers=ADMIN).status_code == 404
        # the region holds the sample's function; the card runs the sample's firmware
        image = get(f"/v2/images/{facts['IMAGE']}")
        assert image["state"] == "approved" and image["function_id"]
        health = get(f"/v2/devices/{facts['N3000']}/health")
        assert health["firmware_version"] == facts["FW_VERSION"]
        assert get(f"/v2/devices/{facts['N3000']}")["status"] == "enabled"
        programmed = get(f"/v2/audit_events?action=operation.program&device_uuid={facts['N3000']}")
        assert [e["outcome"] for e in programmed["audit_events"]][:1] == ["success"], programmed
        # the demo images are marked as demo payloads
        assert b"ACCORD DEMO IMAGE" in (tmp_path / "nlb-demo.gbs").read_bytes()
        assert b"ACCORD DEMO FIRMWARE" in (tmp_path / "n3000-fw.bin").read_bytes()
    finally:
        interrupt(server)
