"""Agent-facing endpoints: the inventory snapshot diff, heartbeats, and who may report."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event, update

from accord.store.db import Database
from accord.store.inventory import mark_lost_hosts
from accord.store.models import Host, utcnow
from tests.api.conftest import AGENT_A, MEMBER, NOVA, Api
from tests.scenarios import fpga_host_snapshot

VM = "3f0c8b8e-8f1a-4c43-a3a4-6b1f9a5f0c11"


def report(api: Api, snapshot: dict[str, Any], host: str = "host-a") -> Any:
    return api.post(f"/v2/hosts/{host}/inventory", json=snapshot)


def test_first_report_adds_and_repeat_changes_nothing(api: Api) -> None:
    snapshot = fpga_host_snapshot("host-a", vfs=2)
    r = report(api, snapshot)
    assert r.status_code == 200
    assert r.json() == {
        "hostname": "host-a",
        "added": ["0000:5e:00.0"],
        "updated": [],
        "removed": [],
        "kept_lost": [],
    }
    before = (
        api.get("/v2/devices").json(),
        api.get("/v2/deployables").json(),
        api.get("/v2/attributes").json(),
    )
    r = report(api, snapshot)
    assert r.json() == {"hostname": "host-a", "added": [], "updated": [], "removed": [], "kept_lost": []}
    after = (
        api.get("/v2/devices").json(),
        api.get("/v2/deployables").json(),
        api.get("/v2/attributes").json(),
    )
    assert after == before


def test_vf_count_change_updates_accelerators_and_handles(api: Api) -> None:
    report(api, fpga_host_snapshot("host-a", vfs=2))
    r = report(api, fpga_host_snapshot("host-a", vfs=6))
    assert r.json()["updated"] == ["0000:5e:00.0"]
    assert api.get("/v2/deployables").json()["deployables"][0]["num_accelerators"] == 6


def test_trait_change_replaces_attributes(api: Api) -> None:
    snapshot = fpga_host_snapshot("host-a")
    report(api, snapshot)
    changed = copy.deepcopy(snapshot)
    changed["devices"][0]["deployables"][0]["traits"] = ["CUSTOM_FPGA_INTEL", "CUSTOM_FPGA_FUNCTION_ID_ABC"]
    report(api, changed)
    values = [a["value"] for a in api.get("/v2/attributes").json()["attributes"]]
    assert sorted(values) == ["CUSTOM_FPGA_FUNCTION_ID_ABC", "CUSTOM_FPGA_INTEL", "FPGA"]


def test_device_removed_is_deleted(api: Api) -> None:
    report(api, fpga_host_snapshot("host-a", devices=2))
    r = report(api, fpga_host_snapshot("host-a", devices=1))
    assert r.json()["removed"] == ["0000:60:00.0"]
    assert len(api.get("/v2/devices").json()["devices"]) == 1
    assert len(api.get("/v2/deployables").json()["deployables"]) == 1


def test_device_in_use_is_kept_lost_until_released(api: Api) -> None:
    report(api, fpga_host_snapshot("host-a", vfs=1))
    rp = api.get("/v2/deployables").json()["deployables"][0]["rp_uuid"]
    api.post("/v2/device_profiles", json=[{"name": "dp", "groups": [{"resources:FPGA": "1"}]}])
    arq = (
        api.as_(MEMBER).post("/v2/accelerator_requests", json={"device_profile_name": "dp"}).json()["arqs"][0]
    )
    bind = {
        arq["uuid"]: [
            {"op": "add", "path": "/hostname", "value": "host-a"},
            {"op": "add", "path": "/device_rp_uuid", "value": rp},
            {"op": "add", "path": "/instance_uuid", "value": VM},
        ]
    }
    api.as_(NOVA).patch("/v2/accelerator_requests", json=bind)
    r = report(api, {"hostname": "host-a", "agent_version": "t", "devices": []})
    assert r.json()["kept_lost"] == ["0000:5e:00.0"]
    assert api.get(f"/v2/accelerator_requests/{arq['uuid']}").json()["state"] == "Bound"
    assert len(api.get("/v2/devices").json()["devices"]) == 1
    # Once the ARQ lets go, the next report removes the device.
    api.as_(NOVA).delete(f"/v2/accelerator_requests?instance={VM}")
    r = report(api, {"hostname": "host-a", "agent_version": "t", "devices": []})
    assert r.json()["removed"] == ["0000:5e:00.0"]
    assert api.get("/v2/devices").json() == {"devices": []}


def test_agent_may_report_only_for_its_host(api: Api) -> None:
    assert report(api.as_(AGENT_A), fpga_host_snapshot("host-a")).status_code == 200
    report(api, fpga_host_snapshot("host-b"), host="host-b")
    before = api.get("/v2/devices?hostname=host-b").json()
    r = report(api.as_(AGENT_A), {"hostname": "host-b", "devices": []}, host="host-b")
    assert r.status_code == 403
    assert "host-b" in r.json()["error_message"]
    assert api.get("/v2/devices?hostname=host-b").json() == before
    assert report(api.as_(MEMBER), fpga_host_snapshot("host-a")).status_code == 403


def test_body_must_match_url_and_schema(api: Api) -> None:
    r = report(api, fpga_host_snapshot("host-a"), host="host-b")
    assert r.status_code == 400
    assert "host-a" in r.json()["error_message"]
    bad = fpga_host_snapshot("host-a")
    bad["devices"][0]["pci_address"] = "5e:00.0"
    r = report(api, bad)
    assert r.status_code == 400
    assert "pci_address" in r.json()["error_message"]
    bad = fpga_host_snapshot("host-a")
    bad["devices"][0]["deployables"][0]["traits"] = ["custom-lower"]
    assert report(api, bad).status_code == 400
    assert api.get("/v2/devices").json() == {"devices": []}


def test_hosts_list_and_heartbeat(api: Api) -> None:
    report(api.as_(AGENT_A), fpga_host_snapshot("host-a"))
    r = api.as_(AGENT_A).post(
        "/v2/hosts/host-a/heartbeat", json={"hostname": "host-a", "agent_version": "1.2"}
    )
    assert r.status_code == 200
    assert r.json()["state"] == "up"
    [host] = api.get("/v2/hosts").json()["hosts"]
    assert (host["name"], host["state"], host["agent_version"], host["device_count"]) == (
        "host-a",
        "up",
        "1.2",
        1,
    )
    assert api.get("/v2/hosts/host-a").json()["name"] == "host-a"
    assert api.get(f"/v2/hosts/{uuid.uuid4()}").status_code == 404
    assert api.as_(MEMBER).get("/v2/hosts").status_code == 403


def with_handle_facts(snapshot: dict[str, Any], **facts: str) -> dict[str, Any]:
    changed = copy.deepcopy(snapshot)
    for handle in changed["devices"][0]["deployables"][0]["attach_handles"]:
        handle["attach_info"].update(facts)
    return changed


def test_changed_handle_facts_update_the_handle_in_place(api: Api) -> None:
    """A PF's MAC or a physnet can change under a bound VF: the handle is the same PCI function,
    so its info is updated in place, never re-created free beside the bound one."""
    first = with_handle_facts(fpga_host_snapshot("host-a", vfs=1), pf_mac_address="b4:96:91:17:00:00")
    report(api, first)
    rp = api.get("/v2/deployables").json()["deployables"][0]["rp_uuid"]
    api.post("/v2/device_profiles", json=[{"name": "dp", "groups": [{"resources:FPGA": "1"}]}])

    def bind(vm: str) -> str:
        arq = api.as_(MEMBER).post("/v2/accelerator_requests", json={"device_profile_name": "dp"})
        arq_uuid = arq.json()["arqs"][0]["uuid"]
        ops = [("hostname", "host-a"), ("device_rp_uuid", rp), ("instance_uuid", vm)]
        patch = {arq_uuid: [{"op": "add", "path": "/" + k, "value": v} for k, v in ops]}
        api.as_(NOVA).patch("/v2/accelerator_requests", json=patch)
        return str(arq_uuid)

    bound = bind(VM)
    before = api.get(f"/v2/accelerator_requests/{bound}").json()
    assert before["attach_handle_info"]["pf_mac_address"] == "b4:96:91:17:00:00"

    moved = with_handle_facts(first, pf_mac_address="b4:96:91:17:00:99", physical_network="physnet2")
    r = report(api, moved)
    assert r.json()["kept_lost"] == []
    after = api.get(f"/v2/accelerator_requests/{bound}").json()
    assert after["state"] == "Bound"
    assert after["attach_handle_uuid"] == before["attach_handle_uuid"]
    assert after["attach_handle_info"]["pf_mac_address"] == "b4:96:91:17:00:99"
    assert after["attach_handle_info"]["physical_network"] == "physnet2"
    # The one VF stays booked: a second server cannot get it.
    second = bind(str(uuid.uuid4()))
    assert api.get(f"/v2/accelerator_requests/{second}").json()["state"] in ("Initial", "BindFailed")
    assert report(api, moved).json()["updated"] == []


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL the server sends meanwhile, each statement lower-cased on one line."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, sql: str, *_rest: Any) -> None:
        seen.append(" ".join(sql.lower().split()))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


def writes(sql: list[str]) -> list[str]:
    return [s for s in sql if s.split()[0] in ("insert", "update", "delete")]


def test_unchanged_report_writes_only_the_heartbeat(api: Api, db: Database) -> None:
    snapshot = fpga_host_snapshot("host-a", vfs=4, devices=2)
    report(api, snapshot)
    with statements(db) as sql:
        r = report(api, snapshot)
    assert r.json() == {"hostname": "host-a", "added": [], "updated": [], "removed": [], "kept_lost": []}
    [write] = writes(sql)
    assert write.startswith("update hosts set") and "last_seen_at" in write
    assert not [s for s in sql if " devices" in s or "deployables" in s or "attach_handles" in s]
    # The same agent's heartbeat, for comparison: no fewer statements than the unchanged report.
    with statements(db) as beat_sql:
        api.post("/v2/hosts/host-a/heartbeat", json={"hostname": "host-a", "agent_version": "t"})
    assert len(sql) <= len(beat_sql) + 1, (sql, beat_sql)


def test_heartbeat_of_a_known_host_is_one_update(api: Api, db: Database) -> None:
    beat = {"hostname": "host-a", "agent_version": "t"}
    api.post("/v2/hosts/host-a/heartbeat", json=beat)  # the first one adds the host
    with db.write() as session:  # as if an operator had asked for a rescan
        session.execute(update(Host).values(rescan_token=7))
    with statements(db) as sql:
        r = api.post("/v2/hosts/host-a/heartbeat", json={**beat, "agent_version": "t2"})
    assert r.status_code == 200 and r.json()["state"] == "up"
    [statement] = [s for s in sql if not s.startswith("begin")]  # SQLite's BEGIN IMMEDIATE
    assert statement.startswith("update hosts set") and "returning" in statement
    assert r.json()["rescan_token"] == 7
    assert api.get("/v2/hosts/host-a").json()["agent_version"] == "t2"


def test_changed_report_after_an_unchanged_one_applies(api: Api, db: Database) -> None:
    snapshot = fpga_host_snapshot("host-a", vfs=2)
    report(api, snapshot)
    report(api, snapshot)
    r = report(api, fpga_host_snapshot("host-a", vfs=6))
    assert r.json()["updated"] == ["0000:5e:00.0"]
    assert api.get("/v2/deployables").json()["deployables"][0]["num_accelerators"] == 6
    # Back to the first snapshot: its digest is no longer the host's, so it is applied again.
    r = report(api, snapshot)
    assert r.json()["updated"] == ["0000:5e:00.0"]
    assert api.get("/v2/deployables").json()["deployables"][0]["num_accelerators"] == 2


def test_lost_host_returns_with_the_same_report(api: Api, db: Database) -> None:
    snapshot = fpga_host_snapshot("host-a", vfs=1)
    report(api, snapshot)
    api.post("/v2/device_profiles", json=[{"name": "dp", "groups": [{"resources:FPGA": "1"}]}])
    candidates = "/v2/allocation_candidates?device_profile=dp"
    assert [c["hostname"] for c in api.get(candidates).json()["allocation_candidates"]] == ["host-a"]
    with db.write() as session:
        mark_lost_hosts(session, timedelta(seconds=60), now=utcnow() + timedelta(seconds=61))
    assert api.get("/v2/hosts/host-a").json()["state"] == "lost"
    assert api.get(candidates).json()["allocation_candidates"] == []
    r = report(api, snapshot)
    assert r.json()["added"] == [] and r.json()["updated"] == []
    assert api.get("/v2/hosts/host-a").json()["state"] == "up"
    assert [c["hostname"] for c in api.get(candidates).json()["allocation_candidates"]] == ["host-a"]


def test_same_report_puts_back_what_an_operator_changed(api: Api) -> None:
    """Rows the server changes itself make the next report apply in full, as before digests."""
    snapshot = fpga_host_snapshot("host-a")
    report(api, snapshot)
    deployable = api.get("/v2/deployables").json()["deployables"][0]["uuid"]
    before = sorted(a["value"] for a in api.get("/v2/attributes").json()["attributes"])
    body = {"deployable_id": deployable, "key": "trait9", "value": "CUSTOM_EXTRA"}
    assert api.post("/v2/attributes", json=body).status_code == 201
    report(api, snapshot)
    assert sorted(a["value"] for a in api.get("/v2/attributes").json()["attributes"]) == before
