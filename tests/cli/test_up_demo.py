"""`accord up --demo` (what `make run RUN_ARGS=--demo` runs): three simulated hosts appear, with
their devices, in `accord host list` and `accord device list`; Ctrl-C ends it quietly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.live_server import free_port, interrupt, wait_for_demo_hosts

ACCORD = str(Path(sys.executable).parent / "accord")


def test_up_demo_shows_three_simulated_hosts(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "ACCORD_DATA_DIR": str(tmp_path / "data"), "ACCORD_DATABASE_URL": ""}
    log = (tmp_path / "up.log").open("w")
    process = subprocess.Popen(
        [ACCORD, "up", "--demo", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_demo_hosts(url, timeout=60)  # then ask the CLI once
        done = subprocess.run(
            [ACCORD, "--url", url, "--json", "device", "list"], capture_output=True, text=True, env=env
        )
        assert done.returncode == 0, done.stdout + done.stderr
        by_host: dict[str, set[str]] = {}
        for device in json.loads(done.stdout):
            by_host.setdefault(device["hostname"], set()).add(device["type"])
        assert by_host.get("demo-fpga") == {"FPGA"}, (tmp_path / "up.log").read_text()
        assert by_host.get("demo-gpu") == {"GPU"}
        assert by_host.get("demo-net") == {"QAT", "NIC"}
        hosts = subprocess.run(
            [ACCORD, "--url", url, "host", "list"], capture_output=True, text=True, env=env
        )
        assert all(name in hosts.stdout for name in ("demo-fpga", "demo-gpu", "demo-net"))
    finally:
        interrupt(process)
        log.close()
    assert (tmp_path / "data/demo/demo-fpga/.built").exists()
    # Ctrl-C stops the agents, then the server: quietly, and as a success
    output = (tmp_path / "up.log").read_text()
    assert process.returncode == 0, output
    assert "Traceback" not in output and "ERROR" not in output, output
