"""Every route of the route table, times admin, member of project A, member of project B, reader of
A, a service (Nova), and the agent of another host: the answer is the policy's (a caller the
rule refuses gets 401/403; one it allows is refused only by a handler's own gate: service role,
own host, own project), never a 500, and no project ever sees another project's data.

Each route starts from the same fresh state (both projects' ARQs, a host, a profile, an image),
and admin goes last, so a delete by one caller cannot hide what the next would have seen.
"""

from __future__ import annotations

import inspect
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from accord.api.app import ROUTES, Route, create_app
from accord.api.auth import noauth
from accord.config import load_settings
from accord.domain.errors import Forbidden
from accord.policy.enforcer import Enforcer, default_enforcer
from accord.store.db import Database
from tests.conftest import _wipe
from tests.scenarios import fpga_host_snapshot

pytestmark = pytest.mark.slow

ADMIN = {"X-Project-Id": "p-admin", "X-User-Id": "u-admin", "X-Roles": "admin"}
CALLERS = {
    "agent-of-host-b": {"X-User-Id": "agent-b", "X-Roles": "agent", "X-Accord-Host": "host-b"},
    "reader-A": {"X-Project-Id": "p-one", "X-User-Id": "u-reader", "X-Roles": "reader"},
    "member-B": {"X-Project-Id": "p-two", "X-User-Id": "u-two", "X-Roles": "member"},
    "member-A": {"X-Project-Id": "p-one", "X-User-Id": "u-one", "X-Roles": "member"},
    "service": {"X-Project-Id": "p-services", "X-User-Id": "nova", "X-Roles": "service"},
    "admin": ADMIN,
}
PROJECT_OF = {"reader-A": "p-one", "member-A": "p-one", "member-B": "p-two", "agent-of-host-b": "(none)"}
OWN_GATES = ("require_service", "require_host", "Forbidden(", "_own_project", "ctx.is_admin")


def _has_own_gate(route: Route) -> bool:
    source = inspect.getsource(inspect.getmodule(route.handler))  # type: ignore[arg-type]
    return any(gate in source for gate in OWN_GATES)


CHECK = Enforcer.check


def _policy_allows(rule: str, headers: dict[str, str]) -> bool:
    ctx = noauth({k.lower(): v for k, v in headers.items()})
    if not ctx.authenticated and not ctx.service_roles:
        return False
    try:
        CHECK(default_enforcer(), rule, ctx)
    except Forbidden:
        return False
    return True


def _seed(client: TestClient) -> dict[str, Any]:
    """Two projects' ARQs on host-a, a profile, an image, a key; returns the ids to fill in."""

    def ok(response: Any) -> Any:
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    ok(client.post("/v2/hosts/host-a/inventory", json=fpga_host_snapshot("host-a", vfs=4), headers=ADMIN))
    ok(
        client.post(
            "/v2/device_profiles", json=[{"name": "dp", "groups": [{"resources:FPGA": "1"}]}], headers=ADMIN
        )
    )
    arqs = {}
    for caller in ("member-A", "member-B"):
        created = ok(
            client.post(
                "/v2/accelerator_requests", json={"device_profile_name": "dp"}, headers=CALLERS[caller]
            )
        )
        arqs[caller] = created["arqs"][0]["uuid"]
    deployable = ok(client.get("/v2/deployables", headers=ADMIN))["deployables"][0]
    device = ok(client.get("/v2/devices", headers=ADMIN))["devices"][0]
    instance_b = str(uuid.uuid4())
    nova = {**CALLERS["member-B"], "X-Service-Roles": "service"}
    bind = [
        {"op": "add", "path": "/hostname", "value": "host-a"},
        {"op": "add", "path": "/device_rp_uuid", "value": deployable["rp_uuid"]},
        {"op": "add", "path": "/instance_uuid", "value": instance_b},
    ]
    ok(client.patch("/v2/accelerator_requests", json={arqs["member-B"]: bind}, headers=nova))
    image = ok(client.post("/v2/images", json={"name": "img", "kind": "bitstream"}, headers=ADMIN))["uuid"]
    attribute = ok(
        client.post(
            "/v2/attributes",
            json={"deployable_id": deployable["uuid"], "key": "k", "value": "v"},
            headers=ADMIN,
        )
    )
    return {
        "arq_uuid": arqs["member-A"],
        "ident": "dp",
        "device_uuid": device["uuid"],
        "deployable_uuid": deployable["uuid"],
        "attribute_uuid": (attribute or {}).get("uuid", str(uuid.uuid4())),
        "hostname": "host-a",
        "operation_uuid": str(uuid.uuid4()),
        "rollout_uuid": str(uuid.uuid4()),
        "image_uuid": image,
        "project_id": "p-one",
        "resource_class": "FPGA",
        "secrets": {
            "p-one": {arqs["member-A"]},
            "p-two": {arqs["member-B"], instance_b},
        },
    }


@pytest.mark.parametrize("backend", ["sqlite"])
def test_every_route_for_every_caller(
    db: Database, data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []  # the rules the handler asked the policy about (observed, unchanged)

    def recording_check(self: Enforcer, key: str, ctx: Any) -> None:
        asked.append(key)
        CHECK(self, key, ctx)

    monkeypatch.setattr(Enforcer, "check", recording_check)
    settings = load_settings(env={}, data_dir=data_dir, auth="noauth", reconcile_interval_s=0)
    answers: Counter[str] = Counter()
    leaks: list[str] = []
    wrong: list[str] = []
    with TestClient(create_app(settings, db=db), base_url="http://accord.test") as client:
        for route in ROUTES:
            _wipe(db)
            ids = _seed(client)
            path = route.path.format(**{k: v for k, v in ids.items() if k != "secrets"})
            if route.method == "DELETE" and route.path == "/v2/accelerator_requests":
                path += f"?arqs={ids['arq_uuid']}"
            for caller, headers in CALLERS.items():
                body = {} if route.body is not None else None
                asked.clear()
                response = client.request(route.method, path, headers=headers, json=body)
                status = response.status_code
                answers[f"{status // 100}xx"] += 1
                where = f"{route.method} {route.path} as {caller}: {status} {response.text[:200]}"
                if status >= 500:
                    wrong.append(where)
                rule = asked[0] if asked else None
                if rule is None:
                    if status == 403:
                        wrong.append(f"{where} (no rule guards it)")
                elif not _policy_allows(rule, headers):
                    if status not in (401, 403):
                        wrong.append(f"{where} (policy {rule} refuses)")
                elif status in (401, 403) and not _has_own_gate(route):
                    wrong.append(f"{where} (policy {rule} allows)")
                own = PROJECT_OF.get(caller)
                if own is not None:
                    for project, secrets in ids["secrets"].items():
                        # an id the caller sent itself may be echoed ("… could not be found")
                        hidden = {s for s in secrets if s not in path}
                        if project != own and any(s in response.text for s in hidden):
                            leaks.append(where)
    pairs = len(ROUTES) * len(CALLERS)
    with capsys.disabled():
        print(
            f"\nisolation matrix: {len(ROUTES)} routes x {len(CALLERS)} callers = {pairs} requests, "
            f"answers {dict(sorted(answers.items()))}, {len(leaks)} leaks, {len(wrong)} wrong answers"
        )
    assert not wrong, "\n".join(wrong)
    assert not leaks, "\n".join(leaks)
