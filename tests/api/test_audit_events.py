"""/v2/audit_events: every upload, approval, program, flash, bind and delete leaves an event,
refusals included, and only admins read them."""

from __future__ import annotations

import hashlib
from typing import Any

from accord.images.formats.build import build_gbs
from accord.store.db import Database
from tests.api.conftest import MEMBER, Api
from tests.api.test_programming import AGENT, FUNCTION, INTERFACE, add_image, bind, finish, fpga  # noqa: F401


def events(api: Api, **filters: str) -> list[dict[str, Any]]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    r = api.get(f"/v2/audit_events?{query}")
    assert r.status_code == 200, r.text
    return list(r.json()["audit_events"])


def test_catalog_steps_are_audited_with_the_image_hash(api: Api) -> None:
    gbs = build_gbs(FUNCTION, INTERFACE)
    image = api.post("/v2/images", json={"name": "afu", "kind": "bitstream"}).json()
    api.request("PUT", f"/v2/images/{image['uuid']}/file", content=gbs)
    api.post(f"/v2/images/{image['uuid']}/approve")
    trail = events(api, target_uuid=image["uuid"])
    assert [(e["action"], e["outcome"]) for e in reversed(trail)] == [
        ("image.create", "success"),
        ("image.upload", "success"),
        ("image.approve", "success"),
    ]
    assert trail[0]["image_sha256"] == hashlib.sha256(gbs).hexdigest()
    assert trail[0]["user_id"] == "u-admin"
    assert [e["action"] for e in events(api, action="image.approve")] == ["image.approve"]
    assert len(events(api, action="image")) == 3


def test_bind_program_and_refusal_are_audited(api: Api, db: Database, fpga: dict[str, Any]) -> None:  # noqa: F811
    # Refused: no approved image for the function.
    r, arq = bind(api, fpga["rp"])
    assert r.status_code == 409
    [refused] = events(api, action="arq.bind")
    assert refused["outcome"] == "refused"
    assert refused["target_uuid"] == arq
    assert "no approved image" in refused["detail"]["reason"]

    add_image(db, FUNCTION)
    _, arq = bind(api, fpga["rp"])
    [op] = api.as_(AGENT).post("/v2/hosts/host-a/operations/claim").json()["operations"]
    finish(api, op, function_id=FUNCTION)
    started = events(api, action="arq.bind", outcome="started")
    assert [e["target_uuid"] for e in started] == [arq]
    device = api.get("/v2/devices").json()["devices"][0]["uuid"]
    assert started[0]["device_uuid"] == device
    [programmed] = events(api, action="operation.program")
    assert programmed["outcome"] == "success"
    assert programmed["device_uuid"] == device
    assert programmed["image_sha256"] == "ab" * 32
    assert programmed["user_id"] == "agent:host-a"
    assert len(events(api, device_uuid=device)) >= 2


def test_audit_is_admin_only_and_filters_are_checked(api: Api) -> None:
    assert api.as_(MEMBER).get("/v2/audit_events").status_code == 403
    assert api.get("/v2/audit_events?outcome=maybe").status_code == 400
    assert api.get("/v2/audit_events?limit=0").status_code == 400
    assert api.get("/v2/audit_events?limit=x").status_code == 400
    assert api.get("/v2/audit_events?since=yesterday").status_code == 400


def test_there_is_no_way_to_change_the_trail(api: Api) -> None:
    assert api.post("/v2/audit_events", json={}).status_code == 405
    assert api.delete("/v2/audit_events").status_code == 405
