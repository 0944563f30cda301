"""Operations as transcripts: an mdev bind waits for the agent, which claims, renews the lease with
its heartbeat, then finishes it; a late result is refused."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from accord.store.bind_operations import complete_bind_operation
from accord.store.db import Database
from accord.store.models import Operation, utcnow
from accord.store.operations import expire_leases
from tests.api.conftest import ADMIN, MEMBER, NOVA, Api
from tests.scenarios import gpu_mdev_snapshot

VM = "3f0c8b8e-8f1a-4c43-a3a4-6b1f9a5f0c11"
AGENT = {"X-User-Id": "agent-g", "X-Roles": "agent", "X-Accord-Host": "gpu-1"}


@pytest.fixture
def vgpu_arq(api: Api) -> dict[str, Any]:
    assert api.post("/v2/hosts/gpu-1/inventory", json=gpu_mdev_snapshot("gpu-1")).status_code == 200
    rp = api.get("/v2/deployables").json()["deployables"][0]["rp_uuid"]
    api.post("/v2/device_profiles", json=[{"name": "vgpu", "groups": [{"resources:VGPU": "1"}]}])
    arq = (
        api.as_(MEMBER)
        .post("/v2/accelerator_requests", json={"device_profile_name": "vgpu"})
        .json()["arqs"][0]
    )
    body = {
        arq["uuid"]: [
            {"op": "add", "path": "/hostname", "value": "gpu-1"},
            {"op": "add", "path": "/device_rp_uuid", "value": rp},
            {"op": "add", "path": "/instance_uuid", "value": VM},
        ]
    }
    assert api.as_(NOVA).patch("/v2/accelerator_requests", json=body).status_code == 202
    return dict(arq)


def test_mdev_bind_waits_for_the_agent_then_binds(api: Api, vgpu_arq: dict[str, Any]) -> None:
    arq_path = f"/v2/accelerator_requests/{vgpu_arq['uuid']}"
    assert api.get(arq_path).json()["state"] == "BindStarted"
    r = api.as_(AGENT).post("/v2/hosts/gpu-1/operations/claim")
    assert r.status_code == 200
    [op] = r.json()["operations"]
    assert op["kind"] == "create_mdev"
    assert op["state"] == "running"
    assert op["attempts"] == 1
    assert op["params"]["pci_address"] == "0000:3b:00.0"
    assert op["params"]["mdev_type"] == "nvidia-35"
    # Nothing more to claim while it runs.
    assert api.as_(AGENT).post("/v2/hosts/gpu-1/operations/claim").json()["operations"] == []
    r = api.as_(AGENT).post(
        f"/v2/hosts/gpu-1/operations/{op['uuid']}", json={"succeeded": True, "result": {"created": True}}
    )
    assert r.status_code == 200
    assert r.json()["state"] == "succeeded"
    bound = api.get(arq_path).json()
    assert bound["state"] == "Bound"
    assert bound["attach_handle_type"] == "MDEV"
    assert bound["attach_handle_uuid"] == op["params"]["mdev_uuid"]
    assert bound["attach_handle_info"]["asked_type"] == "nvidia-35"


def test_failed_mdev_creation_fails_the_bind_and_frees_the_handle(api: Api, vgpu_arq: dict[str, Any]) -> None:
    [op] = api.as_(AGENT).post("/v2/hosts/gpu-1/operations/claim").json()["operations"]
    r = api.as_(AGENT).post(
        f"/v2/hosts/gpu-1/operations/{op['uuid']}", json={"succeeded": False, "error": "write failed: EBUSY"}
    )
    assert r.status_code == 200
    arq = api.get(f"/v2/accelerator_requests/{vgpu_arq['uuid']}").json()
    assert arq["state"] == "BindFailed"
    listed = api.get("/v2/operations?state=failed").json()["operations"]
    assert [o["error"] for o in listed] == ["write failed: EBUSY"]


def test_unbind_queues_mdev_removal(api: Api, vgpu_arq: dict[str, Any]) -> None:
    [op] = api.as_(AGENT).post("/v2/hosts/gpu-1/operations/claim").json()["operations"]
    api.as_(AGENT).post(f"/v2/hosts/gpu-1/operations/{op['uuid']}", json={"succeeded": True})
    unbind = {vgpu_arq["uuid"]: [{"op": "remove", "path": "/instance_uuid"}]}
    assert api.as_(NOVA).patch("/v2/accelerator_requests", json=unbind).status_code == 202
    [removal] = api.as_(AGENT).post("/v2/hosts/gpu-1/operations/claim").json()["operations"]
    assert removal["kind"] == "remove_mdev"
    assert removal["params"]["mdev_uuid"] == op["params"]["mdev_uuid"]


def test_unbind_before_the_agent_runs_cancels_the_work(api: Api, vgpu_arq: dict[str, Any]) -> None:
    unbind = {vgpu_arq["uuid"]: [{"op": "remove", "path": "/instance_uuid"}]}
    api.as_(NOVA).patch("/v2/accelerator_requests", json=unbind)
    claimed = api.as_(AGENT).post("/v2/hosts/gpu-1/operations/claim").json()["operations"]
    assert [o["kind"] for o in claimed] == []  # the create was cancelled; no mdev exists to remove
    states = {o["kind"]: o["state"] for o in api.get("/v2/operations").json()["operations"]}
    assert states["create_mdev"] == "failed"


def test_deleting_a_waiting_arq_by_uuid_cancels_its_work(api: Api, vgpu_arq: dict[str, Any]) -> None:
    assert api.as_(NOVA).delete(f"/v2/accelerator_requests?arqs={vgpu_arq['uuid']}").status_code == 204
    assert api.as_(AGENT).post("/v2/hosts/gpu-1/operations/claim").json()["operations"] == []
    [create] = api.get("/v2/operations").json()["operations"]
    assert (create["kind"], create["state"]) == ("create_mdev", "failed")
    assert create["error"] == "cancelled: the accelerator request was unbound"


def test_deleting_a_bound_vgpu_arq_by_uuid_removes_its_mdev(api: Api, vgpu_arq: dict[str, Any]) -> None:
    [op] = api.as_(AGENT).post("/v2/hosts/gpu-1/operations/claim").json()["operations"]
    api.as_(AGENT).post(f"/v2/hosts/gpu-1/operations/{op['uuid']}", json={"succeeded": True})
    assert api.as_(NOVA).delete(f"/v2/accelerator_requests?arqs={vgpu_arq['uuid']}").status_code == 204
    [removal] = api.as_(AGENT).post("/v2/hosts/gpu-1/operations/claim").json()["operations"]
    assert removal["kind"] == "remove_mdev"
    assert removal["params"]["mdev_uuid"] == op["params"]["mdev_uuid"]


@pytest.mark.parametrize(
    ("body", "status"),
    [({"succeeded": False}, 400), ({"succeeded": "yes"}, 400), ({"succeeded": True, "x": 1}, 400), ([], 400)],
)
def test_bad_results_change_nothing(api: Api, vgpu_arq: dict[str, Any], body: Any, status: int) -> None:
    [op] = api.as_(AGENT).post("/v2/hosts/gpu-1/operations/claim").json()["operations"]
    r = api.as_(AGENT).post(f"/v2/hosts/gpu-1/operations/{op['uuid']}", json=body)
    assert r.status_code == status
    assert api.get(f"/v2/operations/{op['uuid']}").json()["state"] == "running"


def test_other_hosts_agent_cannot_claim_or_finish(api: Api, vgpu_arq: dict[str, Any]) -> None:
    other = {**AGENT, "X-Accord-Host": "gpu-2"}
    assert api.as_(other).post("/v2/hosts/gpu-1/operations/claim").status_code == 403
    [op] = api.as_(AGENT).post("/v2/hosts/gpu-1/operations/claim").json()["operations"]
    assert (
        api.as_(other).post(f"/v2/hosts/gpu-1/operations/{op['uuid']}", json={"succeeded": True}).status_code
        == 403
    )
    assert (
        api.as_(other).post(f"/v2/hosts/gpu-2/operations/{op['uuid']}", json={"succeeded": True}).status_code
        == 404
    )
    assert api.as_(ADMIN).get("/v2/operations").status_code == 200
    assert api.as_(MEMBER).get("/v2/operations").status_code == 403


def _lease(db: Database, op_uuid: str) -> datetime | None:
    with db.read() as session:
        return session.scalars(select(Operation.lease_expires_at).where(Operation.uuid == op_uuid)).one()


def _expire_all(db: Database) -> None:
    """The reconciler's pass, a whole default lease (120 s) from now."""
    with db.write() as session:
        expire_leases(
            session, {"create_mdev": complete_bind_operation}, now=utcnow() + timedelta(seconds=121)
        )


def test_heartbeat_naming_the_running_operation_renews_its_lease(
    api: Api, vgpu_arq: dict[str, Any], db: Database
) -> None:
    [op] = api.as_(AGENT).post("/v2/hosts/gpu-1/operations/claim").json()["operations"]
    before = _lease(db, op["uuid"])
    stranger = "00000000-0000-4000-8000-000000000000"
    beat = api.as_(AGENT).post(
        "/v2/hosts/gpu-1/heartbeat", json={"hostname": "gpu-1", "operations": [op["uuid"], stranger]}
    )
    assert beat.status_code == 200
    assert beat.json()["renewed"] == [op["uuid"]]
    assert beat.json()["not_held"] == [stranger]
    assert beat.json()["lease_s"] == 120
    after = _lease(db, op["uuid"])
    assert before is not None and after is not None and after > before
    assert api.get(f"/v2/operations/{op['uuid']}").json()["state"] == "running"


def test_late_result_after_the_lease_ran_out_is_refused_and_changes_nothing(
    api: Api, vgpu_arq: dict[str, Any], db: Database
) -> None:
    [op] = api.as_(AGENT).post("/v2/hosts/gpu-1/operations/claim").json()["operations"]
    _expire_all(db)
    requeued = api.get(f"/v2/operations/{op['uuid']}").json()
    assert (requeued["state"], requeued["attempts"]) == ("pending", 1)
    late = api.as_(AGENT).post(
        f"/v2/hosts/gpu-1/operations/{op['uuid']}", json={"succeeded": True, "attempt": 1}
    )
    assert late.status_code == 409
    assert "no longer running" in late.json()["error_message"]
    assert api.get(f"/v2/operations/{op['uuid']}").json() == requeued
    assert api.get(f"/v2/accelerator_requests/{vgpu_arq['uuid']}").json()["state"] == "BindStarted"
    # Attempt 2 runs now: attempt 1's result is still late; attempt 2's own result counts.
    [again] = api.as_(AGENT).post("/v2/hosts/gpu-1/operations/claim").json()["operations"]
    assert (again["uuid"], again["attempts"]) == (op["uuid"], 2)
    stale = api.as_(AGENT).post(
        f"/v2/hosts/gpu-1/operations/{op['uuid']}", json={"succeeded": True, "attempt": 1}
    )
    assert stale.status_code == 409
    assert "attempt 2 is running" in stale.json()["error_message"]
    done = api.as_(AGENT).post(
        f"/v2/hosts/gpu-1/operations/{op['uuid']}", json={"succeeded": True, "attempt": 2}
    )
    assert done.status_code == 200
    assert api.get(f"/v2/accelerator_requests/{vgpu_arq['uuid']}").json()["state"] == "Bound"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("operations/claim", {"limit": 0}),
        ("operations/claim", {"limit": "4"}),
        ("operations/claim", {"limit": 99}),
        ("operations/claim", {"everything": True}),
        ("heartbeat", {"hostname": "gpu-1", "operations": "all"}),
        ("heartbeat", {"hostname": "gpu-1", "operations": [""]}),
    ],
)
def test_bad_claims_and_heartbeats_are_400(
    api: Api, vgpu_arq: dict[str, Any], path: str, body: dict[str, Any]
) -> None:
    r = api.as_(AGENT).post(f"/v2/hosts/gpu-1/{path}", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error_message"]
    [op] = api.get("/v2/operations").json()["operations"]
    assert op["state"] == "pending"
