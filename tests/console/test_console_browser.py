"""The console in a real browser: Debian's Chromium, headless, driven through chromium-driver
against `accord up --demo` (the demo fleet, simulated flash tools, a real server on loopback).

Every page loads; approving an image and disabling a device work by clicking; a firmware rollout
is started from its form and watched to its end; and no page asks anything of another origin
(resource timing in the page, and Chromium's own network log).

Screenshots go to `docs/console/` when ACCORD_CONSOLE_SCREENSHOTS=1 (how docs/console.md's
pictures are made), otherwise into the test's temporary directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.live_server import ACCORD, free_port, interrupt

pytestmark = pytest.mark.slow

ADMIN = {"X-Project-Id": "admin", "X-Roles": "admin,service", "OpenStack-API-Version": "accelerator 2.3"}
REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)


@dataclass
class Demo:
    url: str
    data_dir: Path
    log: Path

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**ADMIN, **kwargs.pop("headers", {})}
        response = httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)
        assert response.status_code < 400, (path, response.status_code, response.text)
        return response.json() if response.content else None

    def cli(self, *args: str, cwd: Path) -> Any:
        done = subprocess.run(
            [ACCORD, "--url", self.url, *args, "--json"], capture_output=True, text=True, cwd=cwd, timeout=60
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return json.loads(done.stdout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    base = tmp_path_factory.mktemp("console")
    port = free_port()
    env = {
        **os.environ,
        "ACCORD_DATA_DIR": str(base / "data"),
        "ACCORD_DATABASE_URL": "",
        "ACCORD_AUTH": "noauth",
        "ACCORD_RECONCILE_INTERVAL_S": "1",  # rollouts advance on the reconcile tick
        "ACCORD_SIM_TOOL_DELAY_S": "1",  # a flash takes long enough to be seen in flight
    }
    log = base / "up.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [ACCORD, "up", "--demo", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    demo = Demo(f"http://127.0.0.1:{port}", base / "data", log)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                devices = httpx.get(demo.url + "/v2/devices", headers=ADMIN, timeout=5).json()["devices"]
            except (httpx.HTTPError, KeyError, ValueError):
                devices = []
            if {"demo-fpga", "demo-gpu", "demo-net"} <= {d["hostname"] for d in devices}:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the demo fleet did not appear:\n{log.read_text()}")
        yield demo
    finally:
        interrupt(process)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("ACCORD_CONSOLE_SCREENSHOTS") == "1":
        target = REPO / "docs" / "console"
        target.mkdir(exist_ok=True)
        return target
    return tmp_path_factory.mktemp("screenshots")


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


def submit(browser: WebDriver, button: WebElement) -> None:
    """Click a form's button and wait for the page the server answers with: the click returns
    before the navigation, so reading the page at once could see the old one or none."""
    old_page = browser.find_element(By.TAG_NAME, "html")
    button.click()
    WebDriverWait(browser, 30).until(expected_conditions.staleness_of(old_page))
    WebDriverWait(browser, 30).until(
        lambda driver: driver.execute_script("return document.readyState") == "complete"
    )


def open_page(browser: WebDriver, demo: Demo, path: str, heading: str) -> None:
    browser.get(demo.url + path)
    h1 = browser.find_element(By.TAG_NAME, "h1").text
    assert h1.startswith(heading), (path, h1, browser.page_source[:2000])
    assert not browser.find_elements(By.ID, "page-error"), browser.page_source[:2000]
    # every resource the page loaded (CSS, JS, …) came from this server
    entries = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".concat(performance.getEntriesByType('navigation').map(e => e.name))"
    )
    assert entries and all(name.startswith(demo.url + "/") for name in entries), entries
    # the bundled stylesheet really applied (no CDN, nothing missing)
    header_colour = browser.execute_script(
        "return getComputedStyle(document.querySelector('header')).backgroundColor"
    )
    assert header_colour == "rgb(24, 32, 44)"


def device_uuid(demo: Demo, host: str, vendor: str, type_: str) -> str:
    devices = demo.api("GET", "/v2/devices", params={"hostname": host, "type": type_})["devices"]
    return next(d["uuid"] for d in devices if d["vendor"] == vendor)


def uploaded_image(demo: Demo, workdir: Path, kind: str, device: str, name: str) -> dict[str, Any]:
    path = workdir / f"{name}.bin"
    sample = demo.cli("image", "sample", kind, "--for", device, "--out", str(path), cwd=workdir)
    body: dict[str, Any] = {"name": name, "kind": "firmware" if kind == "firmware" else "bitstream"}
    body.update({k: sample[k] for k in ("version", "function_id") if k in sample})
    image = demo.api("POST", "/v2/images", json=body)
    demo.api(
        "PUT",
        f"/v2/images/{image['uuid']}/file",
        content=path.read_bytes(),
        headers={"Content-Type": "application/octet-stream"},
    )
    return dict(demo.api("GET", f"/v2/images/{image['uuid']}"))


def test_every_page_loads_with_the_demo_fleet(browser: WebDriver, demo: Demo, shots: Path) -> None:
    open_page(browser, demo, "/console", "Fleet")
    assert browser.find_element(By.ID, "hosts-up").text == "4"  # the local host and three demo hosts
    fleet = browser.find_element(By.ID, "devices").text
    assert all(model in fleet for model in ("N3000", "U250", "Tesla T4", "C62X", "E810"))
    browser.save_screenshot(str(shots / "fleet.png"))
    t4 = device_uuid(demo, "demo-gpu", "10de", "GPU")
    submit(browser, browser.find_element(By.LINK_TEXT, "0000:3b:00.0"))  # first match is a demo device
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Device")
    for path, heading in (
        (f"/console/devices/{t4}", "Device 0000:3b:00.0"),
        ("/console/arqs", "Accelerator requests"),
        ("/console/operations", "Operations"),
        ("/console/rollouts", "Firmware rollouts"),
        ("/console/images", "Catalog"),
        ("/console/audit", "Audit trail"),
        ("/console/login", "Log in"),
    ):
        open_page(browser, demo, path, heading)
    open_page(browser, demo, f"/console/devices/{t4}", "Device")
    assert "Tesla T4" in browser.find_element(By.TAG_NAME, "main").text
    browser.save_screenshot(str(shots / "device.png"))


def test_approve_and_disable_by_clicking(browser: WebDriver, demo: Demo, shots: Path, tmp_path: Path) -> None:
    n3000 = device_uuid(demo, "demo-fpga", "8086", "FPGA")
    image = uploaded_image(demo, tmp_path, "gbs", n3000, "nlb-demo")
    assert image["state"] == "uploaded"
    open_page(browser, demo, "/console/images", "Catalog")
    row = browser.find_element(By.ID, f"image-{image['uuid']}")
    submit(browser, row.find_element(By.XPATH, ".//button[text()='Approve']"))
    assert "approved" in browser.find_element(By.ID, "notice").text
    assert "approved" in browser.find_element(By.ID, f"image-{image['uuid']}").text
    assert demo.api("GET", f"/v2/images/{image['uuid']}")["state"] == "approved"

    t4 = device_uuid(demo, "demo-gpu", "10de", "GPU")
    open_page(browser, demo, f"/console/devices/{t4}", "Device")
    submit(browser, browser.find_element(By.XPATH, "//dd[@id='device-status']//button[text()='Disable']"))
    assert "maintaining" in browser.find_element(By.ID, "device-status").text
    assert demo.api("GET", f"/v2/devices/{t4}")["status"] == "maintaining"
    browser.save_screenshot(str(shots / "device-disabled.png"))
    submit(browser, browser.find_element(By.XPATH, "//dd[@id='device-status']//button[text()='Enable']"))
    assert "enabled" in browser.find_element(By.ID, "device-status").text
    assert demo.api("GET", f"/v2/devices/{t4}")["status"] == "enabled"
    # the history on the device's page comes from the audit trail
    history = browser.find_element(By.ID, "events").text
    assert "device.disable" in history and "device.enable" in history

    open_page(browser, demo, "/console/audit?action=device", "Audit trail")
    actions = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#events tr.event")]
    assert actions and all(" device." in f" {text}" for text in actions)
    browser.save_screenshot(str(shots / "audit.png"))


def test_a_rollout_is_started_and_watched_to_its_end(
    browser: WebDriver, demo: Demo, shots: Path, tmp_path: Path
) -> None:
    n3000 = device_uuid(demo, "demo-fpga", "8086", "FPGA")
    before = demo.api("GET", f"/v2/devices/{n3000}/health")["firmware_version"]
    image = uploaded_image(demo, tmp_path, "firmware", n3000, "n3000-fw-demo")
    demo.api("POST", f"/v2/images/{image['uuid']}/approve")

    open_page(browser, demo, "/console/rollouts", "Firmware rollouts")
    Select(browser.find_element(By.ID, "rollout-image")).select_by_value(image["uuid"])
    browser.find_element(By.CSS_SELECTOR, f"input[name='device_uuids'][value='{n3000}']").click()
    submit(browser, browser.find_element(By.ID, "start-rollout-button"))
    assert "started" in browser.find_element(By.ID, "notice").text
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Rollout")
    rollout_url = browser.current_url.split("?")[0]

    # the page reloads itself while the campaign runs; watch it there until it ends
    def ended() -> str | None:
        try:
            state = browser.find_element(By.ID, "rollout-state").text
        except Exception:  # the page is reloading
            return None
        return state if any(s in state for s in ("completed", "failed", "aborted")) else None

    state = wait_for(ended, 120, "the rollout to end")
    assert "completed" in state, browser.page_source[:3000]
    assert browser.find_element(By.ID, "rollout-progress").text == "1/1"
    browser.get(rollout_url)
    browser.save_screenshot(str(shots / "rollout.png"))
    after = demo.api("GET", f"/v2/devices/{n3000}/health")["firmware_version"]
    assert after == image["version"] != before
    assert demo.api("GET", f"/v2/devices/{n3000}")["status"] == "enabled"

    open_page(browser, demo, "/console/operations", "Operations")
    assert "firmware" in browser.find_element(By.ID, "recent").text
    browser.save_screenshot(str(shots / "operations.png"))
    open_page(browser, demo, "/console/images", "Catalog")
    browser.save_screenshot(str(shots / "catalog.png"))


def test_no_page_asked_another_origin(browser: WebDriver, demo: Demo) -> None:
    """Chromium's network log over the whole session: every request went to the server."""
    open_page(browser, demo, "/console", "Fleet")
    requests = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            params = message["params"]
            requests.append((params.get("documentURL", ""), params["request"]["url"]))
    ours = [url for document, url in requests if document.startswith(demo.url + "/")]
    assert len(ours) > 20, requests  # every page of the tests above, with its CSS and JS
    assert all(url.startswith(demo.url + "/") for url in ours), ours
    # nor did the browser itself go anywhere on the network (its own chrome:// pages aside)
    network = [url for _, url in requests if url.startswith(("http:", "https:", "ws:", "wss:"))]
    assert all(url.startswith(demo.url + "/") for url in network), network
