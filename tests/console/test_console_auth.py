"""How a browser gets into the console, as HTTP transcripts against a real server: the login
form and its HttpOnly cookie in token mode, the API's own policy on every page, CSRF and Origin
checks on every action, and noauth mode answering on loopback only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from accord.api.app import create_app
from accord.config import Settings
from accord.store.db import Database
from accord.store.migrate import upgrade
from tests.live_server import LiveServer, live_server
from tests.scenarios import fpga_host_snapshot


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(tmp_path / "srv", "", auth="token") as srv:  # SQLite in the data directory
        yield srv


@pytest.fixture
def server_on_each_store(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    with live_server(tmp_path / "srv", database_url, auth="token") as srv:
        yield srv


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def logged_in(server: LiveServer, roles: str) -> tuple[httpx.Client, str]:
    browser = httpx.Client(base_url=server.url, follow_redirects=False)
    form = browser.get("/console/login")
    assert form.status_code == 200
    csrf = csrf_of(form)
    token = server.token("admin" if "admin" in roles else "p1", roles)
    answer = browser.post("/console/login", data={"csrf": csrf, "token": token, "next": "/console"})
    assert answer.status_code == 303, answer.text
    return browser, csrf


def test_token_mode_sends_a_browser_to_the_login_form_and_keeps_the_token_httponly(
    server: LiveServer,
) -> None:
    browser = httpx.Client(base_url=server.url, follow_redirects=False)
    first = browser.get("/console")
    assert first.status_code == 303
    assert first.headers["location"] == "/console/login?next=/console"
    form = browser.get("/console/login")
    csrf = csrf_of(form)
    assert "httponly" in form.headers["set-cookie"].lower()

    wrong = browser.post("/console/login", data={"csrf": csrf, "token": "not-a-token"})
    assert wrong.status_code == 401
    assert "not valid" in wrong.text
    forged = browser.post("/console/login", data={"csrf": "guess", "token": server.token("admin", "admin")})
    assert forged.status_code == 403

    token = server.token("admin", "admin")
    answer = browser.post("/console/login", data={"csrf": csrf, "token": token, "next": "/console/images"})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/images?notice=")
    cookie = answer.headers["set-cookie"].lower()
    assert all(part in cookie for part in ("httponly", "samesite=strict", "path=/console"))
    assert browser.get("/console").status_code == 200
    assert "<h1>Fleet</h1>" in browser.get("/console").text

    out = browser.post("/console/logout", data={"csrf": csrf})
    assert out.status_code == 303
    assert browser.get("/console").status_code == 303


def test_pages_ask_the_apis_policy(server: LiveServer) -> None:
    reader, _ = logged_in(server, "member")
    refused = reader.get("/console")
    assert refused.status_code == 403
    assert 'id="page-error"' in refused.text
    assert reader.get("/console/arqs").status_code == 200  # members see their own requests


def test_actions_need_the_forms_csrf_token_and_this_origin(server_on_each_store: LiveServer) -> None:
    """Also every page's queries on both stores, with a device on its host."""
    server = server_on_each_store
    admin = {
        "Authorization": f"Bearer {server.token('admin', 'admin')}",
        "OpenStack-API-Version": "accelerator 2.3",
    }

    def status() -> str:
        return str(httpx.get(f"{server.url}/v2/devices/{device['uuid']}", headers=admin).json()["status"])

    httpx.post(f"{server.url}/v2/hosts/host-a/inventory", json=fpga_host_snapshot("host-a"), headers=admin)
    [device] = httpx.get(f"{server.url}/v2/devices", headers=admin).json()["devices"]
    browser, csrf = logged_in(server, "admin")
    action = f"/console/devices/{device['uuid']}/disable"

    assert browser.post(action, data={}).status_code == 403
    assert browser.post(action, data={"csrf": "x" + csrf}).status_code == 403
    other_site = browser.post(action, data={"csrf": csrf}, headers={"Origin": "http://elsewhere.example"})
    assert other_site.status_code == 403
    assert status() == "enabled"

    done = browser.post(action, data={"csrf": csrf, "next": f"/console/devices/{device['uuid']}"})
    assert done.status_code == 303
    assert done.headers["location"].startswith(f"/console/devices/{device['uuid']}?notice=")
    assert status() == "maintaining"
    for page in ("/console", f"/console/devices/{device['uuid']}", "/console/arqs", "/console/operations"):
        assert browser.get(page).status_code == 200, page
    for page in ("/console/rollouts", "/console/images", "/console/audit?action=device"):
        assert browser.get(page).status_code == 200, page
    assert "device.disable" in browser.get(f"/console/devices/{device['uuid']}").text
    # a refusal comes back as the page's error, the reason in words
    again = browser.post(f"/console/images/{'0' * 8}-0000-0000-0000-{'0' * 12}/approve", data={"csrf": csrf})
    assert again.status_code == 303 and "error=" in again.headers["location"]
    # the next page is always one of the console's own
    enable = action.replace("disable", "enable")
    away = browser.post(enable, data={"csrf": csrf, "next": "//elsewhere.example/"})
    assert away.headers["location"].startswith("/console/devices/")


def test_noauth_console_answers_on_loopback_only(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'accord.sqlite'}"
    settings = Settings(data_dir=tmp_path, database_url=database_url, reconcile_interval_s=0)
    db = Database(database_url)
    upgrade(db.engine)
    try:
        with TestClient(create_app(settings, db)) as remote:  # its peer is "testclient", not loopback
            refused = remote.get("/console")
            assert refused.status_code == 403
            assert "loopback" in refused.text
    finally:
        db.dispose()
    with live_server(tmp_path / "srv", "", auth="noauth") as srv:
        page = httpx.get(f"{srv.url}/console")
        assert page.status_code == 200
        assert "Content-Security-Policy" in page.headers
        assert "default-src 'none'" in page.headers["Content-Security-Policy"]
