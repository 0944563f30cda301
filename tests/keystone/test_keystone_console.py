"""The console in keystone mode, against the real Keystone: a Keystone token logs a browser in
(kept in an HttpOnly cookie), every page asks the policy with that token's roles, and a token
Keystone does not know is refused at the login form."""

from __future__ import annotations

import re

import httpx

from tests.compat.hardware import HOST
from tests.keystone.conftest import KeystoneAccord


def login(accord: KeystoneAccord, token: str) -> tuple[httpx.Client, httpx.Response]:
    browser = httpx.Client(base_url=accord.url, follow_redirects=False, timeout=30)
    form = browser.get("/console/login")
    assert "Keystone token" in form.text
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert found
    return browser, browser.post("/console/login", data={"csrf": found.group(1), "token": token})


def test_a_keystone_admin_logs_in_and_sees_the_fleet(accord: KeystoneAccord) -> None:
    browser, answer = login(accord, accord.cloud.token("a-admin"))
    assert answer.status_code == 303
    assert "httponly" in answer.headers["set-cookie"].lower()
    fleet = browser.get("/console")
    assert fleet.status_code == 200
    assert HOST in fleet.text and accord.hardware.device_uuid in fleet.text


def test_a_keystone_member_is_refused_the_fleet(accord: KeystoneAccord) -> None:
    browser, answer = login(accord, accord.cloud.token("a-member"))
    assert answer.status_code == 303
    assert browser.get("/console").status_code == 403
    assert browser.get("/console/arqs").status_code == 200


def test_a_token_keystone_does_not_know_is_refused_at_login(accord: KeystoneAccord) -> None:
    _, refused = login(accord, "gAAAAA-not-a-keystone-token")
    assert refused.status_code == 401
    assert 'id="login-error"' in refused.text
