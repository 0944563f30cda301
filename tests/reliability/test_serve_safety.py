"""`accord serve` is safe by default: noauth stays on loopback unless told otherwise in words
that say it is insecure; the start line says the auth mode and who can reach the server; SIGTERM
lets in-flight requests finish within a bound."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from accord.cli.exposure import EXIT_UNSAFE, describe, is_loopback
from accord.cli.main import app
from accord.config import load_settings
from tests.live_server import ACCORD, free_port, live_server, wait_until_up

ADMIN = {"X-Project-Id": "p", "X-User-Id": "u", "X-Roles": "admin"}
# uvicorn shuts down gracefully, then re-raises the signal it caught (the exit status says why).
STOPPED_BY_SIGTERM = (0, -signal.SIGTERM)


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "192.0.2.10", "accord.example.org"])
def test_noauth_refuses_to_listen_beyond_loopback(tmp_path: Path, address: str) -> None:
    env = {"ACCORD_DATA_DIR": str(tmp_path), "ACCORD_AUTH": "noauth"}
    result = CliRunner().invoke(app, ["serve", "--address", address], env=env)
    assert result.exit_code == EXIT_UNSAFE
    assert "refusing to listen" in result.output
    assert "--insecure-noauth-anywhere" in result.output
    assert not (tmp_path / "accord.sqlite").exists()  # refused before touching anything


def test_accord_up_follows_the_same_rule(tmp_path: Path) -> None:
    env = {"ACCORD_DATA_DIR": str(tmp_path), "ACCORD_ADDRESS": "0.0.0.0"}
    result = CliRunner().invoke(app, ["up"], env=env)
    assert result.exit_code == EXIT_UNSAFE


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "localhost", "127.0.0.53"])
def test_loopback_addresses(address: str) -> None:
    assert is_loopback(address)


def test_the_start_line_says_mode_and_reach(tmp_path: Path) -> None:
    local = describe(load_settings(env={}, data_dir=tmp_path))
    assert "auth: noauth" in local and "only this machine (loopback)" in local
    assert "INSECURE" not in local
    anywhere = describe(
        load_settings(env={}, data_dir=tmp_path, address="0.0.0.0", insecure_noauth_anywhere=True)
    )
    assert "anyone who can route" in anywhere and "INSECURE" in anywhere
    token = describe(load_settings(env={}, data_dir=tmp_path, address="0.0.0.0", auth="token"))
    assert "auth: token" in token and "INSECURE" not in token


def test_the_insecure_switch_lets_noauth_listen_everywhere(tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / "serve.log"
    env = {
        **os.environ,
        "ACCORD_DATA_DIR": str(tmp_path),
        "ACCORD_AUTH": "noauth",
        "ACCORD_INSECURE_NOAUTH_ANYWHERE": "true",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [ACCORD, "serve", "--address", "0.0.0.0", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}", process, log_path)
        assert httpx.get(f"http://127.0.0.1:{port}/v2/devices", headers=ADMIN).status_code == 200
        assert "INSECURE: noauth beyond loopback" in log_path.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) in STOPPED_BY_SIGTERM


def _slow_upload(url: str, image_uuid: str, size: int) -> socket.socket:
    """Send the headers and half the body of an upload, leaving the request in flight."""
    port = int(url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port))
    head = (
        f"PUT /v2/images/{image_uuid}/file HTTP/1.1\r\nHost: accord\r\n"
        "X-Project-Id: p\r\nX-User-Id: u\r\nX-Roles: admin\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n"
    )
    sock.sendall(head.encode() + b"\0" * (size // 2))
    return sock


def _stops_accepting(url: str) -> bool:
    for _ in range(200):
        try:
            httpx.get(url + "/healthz", timeout=1)
        except httpx.HTTPError:
            return True
        time.sleep(0.05)
    return False


def _create_image(url: str) -> str:
    body = {"name": "bits", "kind": "bitstream"}
    response = httpx.post(url + "/v2/images", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    return str(response.json()["uuid"])


def test_sigterm_finishes_the_request_in_flight_then_exits(tmp_path: Path) -> None:
    url_db = f"sqlite:///{tmp_path / 'accord.sqlite'}"
    with live_server(tmp_path / "data", url_db, auth="noauth") as server:
        image = _create_image(server.url)
        sock = _slow_upload(server.url, image, 64 * 1024)
        server.process.send_signal(signal.SIGTERM)
        assert _stops_accepting(server.url)
        sock.settimeout(30)
        sock.sendall(b"\0" * (32 * 1024))
        received = b""
        while chunk := sock.recv(65536):  # the server closes the connection once it answered
            received += chunk
        sock.close()
        head, _, body = received.decode(errors="replace").partition("\r\n\r\n")
        assert head.startswith("HTTP/1.1 "), received
        # A complete answer (the bytes are no known image format: Cyborg's 400 with a reason).
        assert int(head.split()[1]) == 400, received
        assert json.loads(body)["error_message"]
        assert server.process.wait(timeout=30) in STOPPED_BY_SIGTERM


def test_sigterm_gives_up_on_a_stuck_request_after_the_bound(tmp_path: Path) -> None:
    url_db = f"sqlite:///{tmp_path / 'accord.sqlite'}"
    env = {"ACCORD_SHUTDOWN_TIMEOUT_S": "1"}
    with live_server(tmp_path / "data", url_db, auth="noauth", env=env) as server:
        image = _create_image(server.url)
        sock = _slow_upload(server.url, image, 64 * 1024)  # never finished
        server.process.send_signal(signal.SIGTERM)
        # Exits on its own (the fixture would SIGKILL only after its own 10 s wait).
        server.process.wait(timeout=20)
        sock.close()
