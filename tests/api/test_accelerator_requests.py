"""/v2/accelerator_requests as transcripts: create, list, get, bind/unbind (Nova's form), delete."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.conftest import ADMIN, MEMBER, NOVA, OTHER_MEMBER, READER, Api

VM = "3f0c8b8e-8f1a-4c43-a3a4-6b1f9a5f0c11"
VM2 = "0a6d5c9e-3b47-4c5e-8a3c-1b3f5c7d9e21"


def create(api: Api, name: str = "fpga1") -> list[dict[str, Any]]:
    r = api.post("/v2/accelerator_requests", json={"device_profile_name": name})
    assert r.status_code == 201, r.text
    return list(r.json()["arqs"])


def bind_patch(arq: str, rp: str, host: str = "host-a", vm: str = VM) -> dict[str, Any]:
    return {
        arq: [
            {"op": "add", "path": "/hostname", "value": host},
            {"op": "add", "path": "/device_rp_uuid", "value": rp},
            {"op": "add", "path": "/instance_uuid", "value": vm},
        ]
    }


def test_create_yields_one_initial_arq_per_amount(api: Api) -> None:
    api.post(
        "/v2/device_profiles",
        json=[{"name": "two", "groups": [{"resources:FPGA": "2"}, {"resources:CUSTOM_QAT": "1"}]}],
    )
    arqs = create(api.as_(MEMBER), "two")
    assert [(a["device_profile_group_id"], a["state"]) for a in arqs] == [
        (0, "Initial"),
        (0, "Initial"),
        (1, "Initial"),
    ]
    first = arqs[0]
    assert first["project_id"] == "p-one"
    assert first["device_profile_name"] == "two"
    assert first["attach_handle_type"] == ""
    assert first["attach_handle_info"] == {}
    assert first["attach_handle_uuid"] is None
    assert first["hostname"] is None and first["instance_uuid"] is None and first["device_rp_uuid"] is None
    assert first["links"] == [
        {"href": f"http://accord.test/v2/accelerator_requests/{first['uuid']}", "rel": "self"}
    ]
    assert "id" not in first


def test_a_created_arq_reads_back_as_it_was_answered(api: Api) -> None:
    """The create answers from the rows it inserted, the GET from the database: same body, on
    SQLite and PostgreSQL alike, timestamps included; the group is copied onto the ARQ."""
    api.post(
        "/v2/device_profiles",
        json=[{"name": "Two-Groups", "groups": [{"resources:FPGA": "1"}, {"resources:GPU": "2"}]}],
    )
    created = create(api.as_(MEMBER), "Two-Groups")
    assert len({a["uuid"] for a in created}) == 3
    for arq in created:
        assert api.as_(MEMBER).get(f"/v2/accelerator_requests/{arq['uuid']}").json() == arq
        assert arq["created_at"].endswith("+00:00") and arq["updated_at"] is None
    assert api.as_(MEMBER).get("/v2/accelerator_requests").json() == {"arqs": created}


def test_a_name_that_looks_like_a_uuid_is_still_a_name(api: Api, profile: dict[str, Any]) -> None:
    r = api.post("/v2/accelerator_requests", json={"device_profile_name": profile["uuid"]})
    assert r.status_code == 404
    assert r.json()["error_message"] == f"Device profile {profile['uuid']!r} could not be found."


def test_xilinx_group_counts_fpga_twice(api: Api) -> None:
    api.post(
        "/v2/device_profiles",
        json=[{"name": "xil", "groups": [{"resources:FPGA": "1", "trait:CUSTOM_FPGA_XILINX": "required"}]}],
    )
    assert len(create(api, "xil")) == 2


def test_create_for_one_group_only(api: Api) -> None:
    api.post(
        "/v2/device_profiles",
        json=[{"name": "g", "groups": [{"resources:FPGA": "1"}, {"resources:GPU": "2"}]}],
    )
    r = api.post("/v2/accelerator_requests", json={"device_profile_name": "g", "device_profile_group_id": 1})
    assert r.status_code == 201
    assert [a["device_profile_group_id"] for a in r.json()["arqs"]] == [1, 1]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"device_profile_name": ""}, 404),
        ({"device_profile_name": "fake_dp"}, 404),
        ({"device_profile_name": "!@#$%^&*()=-[]"}, 404),
        ({}, 400),
        ({"device_profile_name": 5}, 400),
        ({"device_profile_name": "fpga1", "bogus": 1}, 400),
        ([], 400),
        ({"device_profile_name": "fpga1", "device_profile_group_id": 9}, 400),
    ],
)
def test_bad_create(api: Api, profile: dict[str, Any], body: Any, status: int) -> None:
    r = api.post("/v2/accelerator_requests", json=body)
    assert r.status_code == status
    assert r.json()["error_message"]
    assert api.get("/v2/accelerator_requests").json() == {"arqs": []}


def test_projects_see_only_their_own(api: Api, profile: dict[str, Any]) -> None:
    mine = create(api.as_(MEMBER))[0]
    theirs = create(api.as_(OTHER_MEMBER))[0]
    assert [a["uuid"] for a in api.as_(MEMBER).get("/v2/accelerator_requests").json()["arqs"]] == [
        mine["uuid"]
    ]
    assert [a["uuid"] for a in api.as_(READER).get("/v2/accelerator_requests").json()["arqs"]] == [
        mine["uuid"]
    ]
    assert api.as_(MEMBER).get(f"/v2/accelerator_requests/{theirs['uuid']}").status_code == 404
    assert api.as_(MEMBER).delete(f"/v2/accelerator_requests?arqs={theirs['uuid']}").status_code == 404
    assert len(api.as_(ADMIN).get("/v2/accelerator_requests").json()["arqs"]) == 2
    assert (
        api.as_(READER).post("/v2/accelerator_requests", json={"device_profile_name": "fpga1"}).status_code
        == 403
    )


def test_bind_as_nova_takes_one_free_handle(
    api: Api, one_fpga_host: dict[str, Any], profile: dict[str, Any]
) -> None:
    arq = create(api.as_(MEMBER))[0]
    r = api.as_(NOVA).patch(
        "/v2/accelerator_requests", json=bind_patch(arq["uuid"], one_fpga_host["rp_uuid"])
    )
    assert r.status_code == 202
    assert r.content == b""
    bound = api.as_(MEMBER).get(f"/v2/accelerator_requests/{arq['uuid']}").json()
    assert bound["state"] == "Bound"
    assert bound["hostname"] == "host-a"
    assert bound["instance_uuid"] == VM
    assert bound["device_rp_uuid"] == one_fpga_host["rp_uuid"]
    assert bound["attach_handle_type"] == "PCI"
    assert bound["attach_handle_info"] == {"domain": "0000", "bus": "5f", "device": "00", "function": "0"}
    assert uuid.UUID(bound["attach_handle_uuid"])


def test_list_by_instance_resolved(api: Api, one_fpga_host: dict[str, Any], profile: dict[str, Any]) -> None:
    arq = create(api.as_(MEMBER))[0]
    api.as_(NOVA).patch("/v2/accelerator_requests", json=bind_patch(arq["uuid"], one_fpga_host["rp_uuid"]))
    r = api.as_(MEMBER).get(f"/v2/accelerator_requests?instance={VM}&bind_state=resolved")
    assert r.status_code == 200
    assert [a["uuid"] for a in r.json()["arqs"]] == [arq["uuid"]]
    assert api.get(f"/v2/accelerator_requests?instance={VM2}").json() == {"arqs": []}


def test_bad_bind_state_is_400(api: Api) -> None:
    r = api.get(f"/v2/accelerator_requests?instance={VM}&bind_state=started")
    assert r.status_code == 400
    assert "resolved" in r.json()["error_message"]


def test_patch_by_uuid_path_as_openstacksdk_sends_it(
    api: Api, one_fpga_host: dict[str, Any], profile: dict[str, Any]
) -> None:
    arq = create(api)[0]
    body = bind_patch(arq["uuid"], one_fpga_host["rp_uuid"])
    r = api.as_({**ADMIN, "X-Roles": "admin,service"}).patch(
        f"/v2/accelerator_requests/{arq['uuid']}", json=body
    )
    assert r.status_code == 202
    assert api.get(f"/v2/accelerator_requests/{arq['uuid']}").json()["state"] == "Bound"


def test_unbind_frees_the_handle(api: Api, one_fpga_host: dict[str, Any], profile: dict[str, Any]) -> None:
    arq = create(api.as_(MEMBER))[0]
    nova = api.as_(NOVA)
    nova.patch("/v2/accelerator_requests", json=bind_patch(arq["uuid"], one_fpga_host["rp_uuid"]))
    unbind = {
        arq["uuid"]: [{"op": "remove", "path": p} for p in ("/hostname", "/device_rp_uuid", "/instance_uuid")]
    }
    assert nova.patch("/v2/accelerator_requests", json=unbind).status_code == 202
    after = nova.get(f"/v2/accelerator_requests/{arq['uuid']}").json()
    assert after["state"] == "Unbound"
    assert (
        after["hostname"] is None and after["instance_uuid"] is None and after["attach_handle_uuid"] is None
    )
    # The freed handle can be taken again: bind 4 ARQs to the 4-handle deployable.
    uuids = [create(api.as_(MEMBER))[0]["uuid"] for _ in range(4)]
    for i, u in enumerate(uuids):
        vm = str(uuid.UUID(int=i + 1))
        nova.patch("/v2/accelerator_requests", json=bind_patch(u, one_fpga_host["rp_uuid"], vm=vm))
    assert [nova.get(f"/v2/accelerator_requests/{u}").json()["state"] for u in uuids] == ["Bound"] * 4


def test_no_free_handle_means_bind_failed_for_the_whole_instance(
    api: Api, one_fpga_host: dict[str, Any], profile: dict[str, Any]
) -> None:
    nova = api.as_(NOVA)
    rp = one_fpga_host["rp_uuid"]
    arqs = [create(api.as_(MEMBER))[0]["uuid"] for _ in range(5)]
    body: dict[str, Any] = {}
    for a in arqs:
        body.update(bind_patch(a, rp))
    assert nova.patch("/v2/accelerator_requests", json=body).status_code == 202
    states = [nova.get(f"/v2/accelerator_requests/{a}").json() for a in arqs]
    assert [s["state"] for s in states] == ["BindFailed"] * 5
    assert all(s["attach_handle_uuid"] is None for s in states)
    # All-or-nothing: none of the 4 handles stayed taken, so another instance gets all 4.
    others = [create(api.as_(MEMBER))[0]["uuid"] for _ in range(4)]
    body = {}
    for a in others:
        body.update(bind_patch(a, rp, vm=VM2))
    nova.patch("/v2/accelerator_requests", json=body)
    assert [nova.get(f"/v2/accelerator_requests/{a}").json()["state"] for a in others] == ["Bound"] * 4


def test_bind_needs_a_service(api: Api, one_fpga_host: dict[str, Any], profile: dict[str, Any]) -> None:
    arq = create(api.as_(MEMBER))[0]
    r = api.as_(MEMBER).patch(
        "/v2/accelerator_requests", json=bind_patch(arq["uuid"], one_fpga_host["rp_uuid"])
    )
    assert r.status_code == 403
    assert "requires a service token" in r.json()["error_message"]
    assert api.get(f"/v2/accelerator_requests/{arq['uuid']}").json()["state"] == "Initial"


BAD_PATCHES = [
    (
        lambda a, rp: {
            a: [
                {"op": "add", "path": "/hostname", "value": "host-a"},
                {"op": "remove", "path": "/instance_uuid"},
            ]
        },
        400,
        "all 'add' or all 'remove'",
    ),
    (
        lambda a, rp: {
            a: [
                {"op": "add", "path": "/hostname", "value": "host-a"},
                {"op": "add", "path": "/device_rp_uuid", "value": rp},
            ]
        },
        400,
        "/instance_uuid",
    ),
    (
        lambda a, rp: {
            a: [
                {"op": "add", "path": "/hostname", "value": "host-a"},
                {"op": "add", "path": "/instance_uuid", "value": VM},
            ]
        },
        400,
        "together",
    ),
    (lambda a, rp: {a: [{"op": "add", "path": "/state", "value": "Bound"}]}, 400, "cannot be patched"),
    (lambda a, rp: {a: [{"op": "replace", "path": "/hostname", "value": "x"}]}, 400, "not supported"),
    (lambda a, rp: {a: [{"path": "/hostname"}]}, 400, "not supported"),
    (lambda a, rp: {a: []}, 400, "non-empty list"),
    (lambda a, rp: {a: "x"}, 400, "non-empty list"),
    (lambda a, rp: {"not-a-uuid": bind_patch(a, rp)[a]}, 400, "not a valid UUID"),
    (lambda a, rp: [], 400, "must map"),
    (lambda a, rp: bind_patch(str(uuid.uuid4()), rp), 404, "could not be found"),
    (lambda a, rp: bind_patch(a, str(uuid.uuid4())), 400, "No deployable"),
    (lambda a, rp: bind_patch(a, rp, host="host-z"), 400, "not known"),
    (lambda a, rp: bind_patch(a, "nope"), 400, "not a valid UUID"),
    (
        lambda a, rp: {a: [*bind_patch(a, rp)[a], {"op": "add", "path": "/project_id", "value": "p"}]},
        406,
        "2.1",
    ),
]


@pytest.mark.parametrize(("make", "status", "message"), BAD_PATCHES)
def test_bad_patches_store_nothing(
    api: Api, one_fpga_host: dict[str, Any], profile: dict[str, Any], make: Any, status: int, message: str
) -> None:
    arq = create(api.as_(MEMBER))[0]
    r = api.as_(NOVA).patch("/v2/accelerator_requests", json=make(arq["uuid"], one_fpga_host["rp_uuid"]))
    assert r.status_code == status, r.text
    assert message in r.json()["error_message"]
    after = api.get(f"/v2/accelerator_requests/{arq['uuid']}").json()
    assert after["state"] == "Initial"
    assert after["hostname"] is None


def test_project_id_on_bind_needs_admin_at_2_1(
    api: Api, one_fpga_host: dict[str, Any], profile: dict[str, Any]
) -> None:
    arq = create(api.as_(MEMBER))[0]
    body = {
        arq["uuid"]: [
            *bind_patch(arq["uuid"], one_fpga_host["rp_uuid"])[arq["uuid"]],
            {"op": "add", "path": "/project_id", "value": "p-x"},
        ]
    }
    v21 = {"OpenStack-API-Version": "accelerator 2.1"}
    assert api.as_(NOVA).patch("/v2/accelerator_requests", json=body, headers=v21).status_code == 403
    admin_service = api.as_({**ADMIN, "X-Service-Roles": "service"})
    assert admin_service.patch("/v2/accelerator_requests", json=body, headers=v21).status_code == 202
    assert api.get(f"/v2/accelerator_requests/{arq['uuid']}").json()["project_id"] == "p-x"


def test_bind_twice_is_refused(api: Api, one_fpga_host: dict[str, Any], profile: dict[str, Any]) -> None:
    arq = create(api.as_(MEMBER))[0]
    nova = api.as_(NOVA)
    body = bind_patch(arq["uuid"], one_fpga_host["rp_uuid"])
    assert nova.patch("/v2/accelerator_requests", json=body).status_code == 202
    r = nova.patch("/v2/accelerator_requests", json=body)
    assert r.status_code in (400, 409)
    assert r.json()["error_message"]
    handles_in_use = api.get(f"/v2/accelerator_requests/{arq['uuid']}").json()["attach_handle_uuid"]
    assert handles_in_use is not None


def test_instance_with_arqs_cannot_bind_more(
    api: Api, one_fpga_host: dict[str, Any], profile: dict[str, Any]
) -> None:
    first, second = create(api.as_(MEMBER))[0], create(api.as_(MEMBER))[0]
    nova = api.as_(NOVA)
    nova.patch("/v2/accelerator_requests", json=bind_patch(first["uuid"], one_fpga_host["rp_uuid"]))
    r = nova.patch("/v2/accelerator_requests", json=bind_patch(second["uuid"], one_fpga_host["rp_uuid"]))
    assert r.status_code == 400
    assert "already has" in r.json()["error_message"]


def test_bind_on_disabled_device_is_refused(
    api: Api, one_fpga_host: dict[str, Any], profile: dict[str, Any]
) -> None:
    device = one_fpga_host["deployable"]["device_id"]
    assert api.post(f"/v2/devices/{device}/disable").status_code == 200
    arq = create(api.as_(MEMBER))[0]
    r = api.as_(NOVA).patch(
        "/v2/accelerator_requests", json=bind_patch(arq["uuid"], one_fpga_host["rp_uuid"])
    )
    assert r.status_code == 409
    assert "disabled" in r.json()["error_message"]
    assert api.get(f"/v2/accelerator_requests/{arq['uuid']}").json()["state"] == "Initial"


def test_bind_a_deleted_arq_is_404(api: Api, one_fpga_host: dict[str, Any], profile: dict[str, Any]) -> None:
    arq = create(api.as_(MEMBER))[0]
    assert api.as_(MEMBER).delete(f"/v2/accelerator_requests/{arq['uuid']}").status_code == 204
    r = api.as_(NOVA).patch(
        "/v2/accelerator_requests", json=bind_patch(arq["uuid"], one_fpga_host["rp_uuid"])
    )
    assert r.status_code == 404


def test_delete_by_arqs_unbinds_first_and_needs_service_when_bound(
    api: Api, one_fpga_host: dict[str, Any], profile: dict[str, Any]
) -> None:
    arq = create(api.as_(MEMBER))[0]
    api.as_(NOVA).patch("/v2/accelerator_requests", json=bind_patch(arq["uuid"], one_fpga_host["rp_uuid"]))
    r = api.as_(MEMBER).delete(f"/v2/accelerator_requests?arqs={arq['uuid']}")
    assert r.status_code == 403
    assert "requires a service token" in r.json()["error_message"]
    assert api.as_(NOVA).delete(f"/v2/accelerator_requests?arqs={arq['uuid']}").status_code == 204
    assert api.get(f"/v2/accelerator_requests/{arq['uuid']}").status_code == 404
    # Its handle is free again: 4 new binds succeed on the 4-handle deployable.
    for i in range(4):
        a = create(api.as_(MEMBER))[0]["uuid"]
        api.as_(NOVA).patch(
            "/v2/accelerator_requests",
            json=bind_patch(a, one_fpga_host["rp_uuid"], vm=str(uuid.UUID(int=i + 9))),
        )
        assert api.get(f"/v2/accelerator_requests/{a}").json()["state"] == "Bound"


def test_delete_by_arqs_is_all_or_nothing(api: Api, profile: dict[str, Any]) -> None:
    mine = [create(api.as_(MEMBER))[0]["uuid"] for _ in range(2)]
    theirs = create(api.as_(OTHER_MEMBER))[0]["uuid"]
    for query in (f"{mine[0]},{uuid.uuid4()}", f"{mine[0]},{theirs}", f"{mine[1]},{mine[0]},{theirs}"):
        r = api.as_(MEMBER).delete(f"/v2/accelerator_requests?arqs={query}")
        assert r.status_code == 404
        assert r.json()["error_message"] == f"Accelerator request {query.split(',')[-1]} could not be found."
    assert len(api.as_(MEMBER).get("/v2/accelerator_requests").json()["arqs"]) == 2
    both = f"{mine[1].upper()}, {mine[0]}"
    assert api.as_(MEMBER).delete(f"/v2/accelerator_requests?arqs={both}").status_code == 204
    assert [a["uuid"] for a in api.get("/v2/accelerator_requests").json()["arqs"]] == [theirs]


def test_delete_by_arqs_is_audited_with_the_device_it_held(
    api: Api, one_fpga_host: dict[str, Any], profile: dict[str, Any]
) -> None:
    bound, initial = (create(api.as_(MEMBER))[0]["uuid"] for _ in range(2))
    api.as_(NOVA).patch("/v2/accelerator_requests", json=bind_patch(bound, one_fpga_host["rp_uuid"]))
    assert api.as_(NOVA).delete(f"/v2/accelerator_requests?arqs={initial},{bound}").status_code == 204
    events = api.get("/v2/audit_events?action=arq.delete").json()["audit_events"]
    by_target = {e["target_uuid"]: e for e in events}
    assert len(events) == 2 and set(by_target) == {bound, initial}
    device = api.get("/v2/devices").json()["devices"][0]["uuid"]
    assert by_target[bound]["device_uuid"] == device
    assert by_target[bound]["outcome"] == "success"
    assert by_target[bound]["user_id"] == "u-one" and by_target[bound]["project_id"] == "p-one"
    assert by_target[bound]["detail"] == {
        "state": "Bound",
        "hostname": "host-a",
        "instance_uuid": VM,
        "device_rp_uuid": one_fpga_host["rp_uuid"],
        "project": "p-one",
    }
    assert by_target[initial]["device_uuid"] is None
    assert by_target[initial]["detail"] == {"state": "Initial", "project": "p-one"}


def test_delete_by_instance_is_idempotent_and_needs_service(
    api: Api, one_fpga_host: dict[str, Any], profile: dict[str, Any]
) -> None:
    arq = create(api.as_(MEMBER))[0]
    api.as_(NOVA).patch("/v2/accelerator_requests", json=bind_patch(arq["uuid"], one_fpga_host["rp_uuid"]))
    r = api.as_(MEMBER).delete(f"/v2/accelerator_requests?instance={VM}")
    assert r.status_code == 403
    assert "requires a service token" in r.json()["error_message"]
    assert api.as_(NOVA).delete(f"/v2/accelerator_requests?instance={VM}").status_code == 204
    assert api.as_(NOVA).delete(f"/v2/accelerator_requests?instance={VM}").status_code == 204
    assert api.get("/v2/accelerator_requests").json() == {"arqs": []}


@pytest.mark.parametrize("query", ["", f"?arqs={VM}&instance={VM}", "?arqs=", "?arqs=zzz"])
def test_delete_needs_exactly_one_valid_parameter(api: Api, query: str) -> None:
    r = api.delete(f"/v2/accelerator_requests{query}")
    assert r.status_code == 400
    assert r.json()["error_message"]


def test_delete_unknown_uuid_is_404(api: Api) -> None:
    assert api.delete(f"/v2/accelerator_requests?arqs={uuid.uuid4()}").status_code == 404
    assert api.delete(f"/v2/accelerator_requests/{uuid.uuid4()}").status_code == 404
