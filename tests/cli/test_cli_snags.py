"""The first hour's snags, each pinned: `--json` where a person types it, JSON from every client
command (deletes print the deleted ids), `accord schedule` showing the rp a bind needs, a busy
port, and `docs/` naming only files the repository has."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from accord.cli.main import app
from tests.live_server import ACCORD, LiveServer, free_port, live_server
from tests.scenarios import fpga_host_snapshot

ADMIN = {"X-Project-Id": "admin", "X-Roles": "admin,service"}
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    # CLI behaviour, not storage: the embedded SQLite of the data directory is enough
    with live_server(tmp_path / "srv", "", auth="noauth", env={"ACCORD_RECONCILE_INTERVAL_S": "0"}) as srv:
        httpx.post(
            f"{srv.url}/v2/hosts/host-a/inventory", json=fpga_host_snapshot("host-a"), headers=ADMIN
        ).raise_for_status()
        yield srv


def run(url: str, *args: str) -> Any:
    return CliRunner().invoke(app, ["--url", url, *args])


def json_of(url: str, *args: str) -> Any:
    result = run(url, *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_is_accepted_after_the_subcommand_too(server: LiveServer) -> None:
    before = json_of(server.url, "--json", "device", "list")
    assert json_of(server.url, "device", "list", "--json") == before
    assert json_of(server.url, "device", "--json", "list") == before
    assert [d["hostname"] for d in before] == ["host-a"]


def test_every_delete_prints_the_deleted_ids_with_json(server: LiveServer) -> None:
    json_of(server.url, "profile", "create", "dp", "--group", "resources:FPGA=1", "--json")
    [arq] = json_of(server.url, "arq", "create", "dp", "--json")
    assert json_of(server.url, "arq", "delete", arq["uuid"], "--json") == {"deleted": [arq["uuid"]]}
    assert json_of(server.url, "profile", "delete", "dp", "--json") == {"deleted": ["dp"]}
    image = json_of(server.url, "image", "create", "img", "--json")
    assert json_of(server.url, "image", "delete", image["uuid"], "--json") == {"deleted": [image["uuid"]]}
    json_of(server.url, "quota", "set", "p1", "FPGA", "2", "--json")
    assert json_of(server.url, "quota", "delete", "p1", "FPGA", "--json") == {
        "deleted": [{"project_id": "p1", "resource_class": "FPGA"}]
    }
    # without --json, a sentence a person reads
    json_of(server.url, "profile", "create", "dp2", "--group", "resources:FPGA=1", "--json")
    assert run(server.url, "profile", "delete", "dp2").stdout.strip() == "deleted device profile dp2"


def test_enable_and_disable_print_the_device(server: LiveServer) -> None:
    [device] = json_of(server.url, "device", "list", "--json")
    assert json_of(server.url, "device", "disable", device["uuid"], "--json")["status"] == "maintaining"
    assert json_of(server.url, "device", "enable", device["uuid"], "--json")["status"] == "enabled"


def test_schedule_shows_the_rp_a_bind_takes_and_the_bind_works(server: LiveServer) -> None:
    json_of(server.url, "profile", "create", "dp", "--group", "resources:FPGA=1", "--json")
    [deployable] = json_of(server.url, "deployable", "list", "--json")
    table = run(server.url, "schedule", "dp")
    assert table.exit_code == 0, table.output
    assert deployable["rp_uuid"] in table.stdout
    assert deployable["uuid"] not in table.stdout  # the obvious copy is the right one
    [arq] = json_of(server.url, "arq", "create", "dp", "--json")
    rp = re.search(r"[0-9a-f-]{36}", table.stdout.split("device_rp_uuid", 1)[1])
    assert rp is not None
    bound = json_of(
        server.url,
        *("arq", "bind", arq["uuid"], "--instance", str(uuid.uuid4()), "--hostname", "host-a"),
        *("--rp", rp.group(0), "--json"),
    )
    assert bound["state"] == "Bound"


def test_token_create_prints_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["token", "create", "--project", "p1", "--roles", "member", "--json"])
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert (created["project_id"], created["roles"]) == ("p1", ["member"])
    assert len(created["token"]) > 20


def test_a_busy_port_is_a_clear_message_and_exit_8(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {"ACCORD_DATA_DIR": str(tmp_path), "ACCORD_DATABASE_URL": "", "PATH": "/usr/bin:/bin"}
        for command in ("serve", "up"):
            done = subprocess.run(
                [ACCORD, command, "--port", str(port)], capture_output=True, text=True, env=env, timeout=60
            )
            assert done.returncode == 8, (command, done.stdout, done.stderr)
            assert "listening" not in done.stdout
            assert f"127.0.0.1:{port}" in done.stderr and "already in use" in done.stderr
            assert "Traceback" not in done.stderr


# Paths a reader of docs/ could never open: the workspace's own notes and absolute local paths.
OUTSIDE = re.compile(r"(/work/|/home/|/tmp/|/root/|DESIGN\.md|STYLE\.md|cyborg-v2-contract|notes/)")


def test_docs_name_only_files_in_the_repository() -> None:
    for doc in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]:
        text = doc.read_text()
        assert not OUTSIDE.search(text), f"{doc.name} names a file outside the repository"
        for target in re.findall(r"\]\(([^)#\s]+)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            assert (doc.parent / target).exists(), f"{doc.name} links to {target}, which is not in the repo"
        for path in re.findall(r"`((?:src/accord|tests|bench|docs)/[\w./-]+)`", text):
            assert (REPO / path).exists(), f"{doc.name} names {path}, which is not in the repo"


def test_make_run_installs_the_runtime_only() -> None:
    """`make run` needs no dev tools (OpenStack clients, schemathesis, …): its install step is
    `pip install -e .` without the dev extra, with pip's progress shown."""
    done = subprocess.run(
        ["make", "-n", "-B", "-C", str(REPO), "run"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    installs = [line for line in done.stdout.splitlines() if "pip install" in line and "-e" in line]
    assert installs, done.stdout
    assert all("[dev]" not in line and "--quiet" not in line for line in installs), installs
    assert any("--progress-bar on -e ." in line for line in installs), installs


INTERFACE = "69528db6-eb31-577a-8c36-68f9faa081f6"


def _two_fpga_snapshot() -> dict[str, Any]:
    snapshot = fpga_host_snapshot("host-b", devices=2)
    intel, xilinx = snapshot["devices"]
    intel["deployables"][0]["traits"].append(f"CUSTOM_FPGA_REGION_INTEL_{INTERFACE.replace('-', '').upper()}")
    intel["firmware_version"] = "1.2.3"
    xilinx.update(vendor="10ee", product="5004", model="Alveo U250", driver="xclmgmt")
    xilinx["firmware_version"] = "xilinx_u250_gen3x16_xdma_shell_3_1"
    return snapshot


def test_image_samples_are_valid_images_for_their_device(server: LiveServer, tmp_path: Path) -> None:
    httpx.post(
        f"{server.url}/v2/hosts/host-b/inventory", json=_two_fpga_snapshot(), headers=ADMIN
    ).raise_for_status()
    listed = json_of(server.url, "device", "list", "--hostname", "host-b", "--json")
    devices = {d["vendor"]: d["uuid"] for d in listed}
    for kind, vendor in (("gbs", "8086"), ("xclbin", "10ee"), ("firmware", "8086")):
        path = tmp_path / f"sample.{kind}"
        sample = json_of(
            server.url, "image", "sample", kind, "--for", devices[vendor], "--out", str(path), "--json"
        )
        assert sample["path"] == str(path) and path.stat().st_size == sample["size"]
        create = ["image", "create", f"demo-{kind}", "--json"]
        if kind == "firmware":
            create += ["--kind", "firmware", "--version", sample["version"]]
        image = json_of(server.url, *create)
        uploaded = json_of(server.url, "image", "upload", image["uuid"], str(path), "--json")
        assert uploaded["state"] == "uploaded", uploaded
        if kind == "gbs":
            assert uploaded["function_id"] == sample["function_id"]
            assert uploaded["parsed"]["interface_id"] == INTERFACE
        if kind == "xclbin":
            assert uploaded["function_id"] == sample["function_id"]
        if kind == "firmware":
            assert sample["version"] == "1.2.4"  # one above what the card runs
    # a .gbs needs an Intel PR region: a Xilinx card is refused with the reason
    xilinx = devices["10ee"]
    refused = run(server.url, "image", "sample", "gbs", "--for", xilinx, "--out", str(tmp_path / "x"))
    assert refused.exit_code == 6
    assert "no Intel PR region" in refused.output


def test_ctrl_c_stops_serve_and_an_agent_quietly(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "ACCORD_DATA_DIR": str(tmp_path), "ACCORD_DATABASE_URL": "", "ACCORD_AUTH": "noauth"}
    serve = subprocess.Popen(
        [ACCORD, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    agent = None
    try:
        assert serve.stdout is not None
        seen = []
        while not (seen and seen[-1].startswith("Accord listening")):
            line = serve.stdout.readline().decode()
            assert line, "".join(seen)  # the server ended without listening
            seen.append(line)
        assert seen[-1].startswith(f"Accord listening on {url}"), seen
        # "listening" is printed once the port is bound: it answers right away
        assert httpx.get(url + "/", timeout=10).status_code == 200
        sysfs = tmp_path / "sysfs"  # a host with no devices
        sysfs.mkdir()
        agent = subprocess.Popen(
            [ACCORD, "agent", "--server", url, "--host", "quiet-host", "--sysfs-root", str(sysfs)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            hosts = httpx.get(url + "/v2/hosts", headers=ADMIN, timeout=10).json()["hosts"]
            if any(h["name"] == "quiet-host" for h in hosts):
                break
            time.sleep(0.3)
        agent.send_signal(signal.SIGINT)
        agent_output = agent.communicate(timeout=30)[0].decode()
        assert agent.returncode == 130, agent_output
        assert "Traceback" not in agent_output, agent_output
    finally:
        if agent is not None and agent.poll() is None:
            agent.kill()
        serve.send_signal(signal.SIGINT)
        serve_output = serve.communicate(timeout=30)[0].decode()
    assert serve.returncode == 0, serve_output
    assert "Traceback" not in serve_output, serve_output
