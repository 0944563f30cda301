"""/v2/images: create → upload (parsed, sha256) → approve; refusals; download; delete."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.agent.sim.firmware import build_sim_firmware
from accord.images.formats.build import build_gbs
from accord.images.signatures import public_key_pem, sign_digest
from tests.api.conftest import AGENT_A, MEMBER, Api
from tests.scenarios import fpga_host_snapshot

AFU = "d8424dc4-a4a9-3c26-9bd6-c0f2eb4a5e3b"
IFACE = "69528db6-eb31-577a-8c36-68f9faa081f6"
OTHER_IFACE = "00000000-1111-2222-3333-444444444444"
GBS = build_gbs(AFU, IFACE)


def create(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"name": "nlb0", "kind": "bitstream", "vendor": "intel", **fields}
    r = api.post("/v2/images", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def upload(api: Api, image: dict[str, Any], data: bytes) -> Any:
    return api.request(
        "PUT",
        f"/v2/images/{image['uuid']}/file",
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )


def test_create_upload_approve_transcript(api: Api) -> None:
    image = create(api, function_id=AFU)
    assert image["state"] == "queued"
    assert image["sha256"] is None and image["size"] is None

    r = upload(api, image, GBS)
    assert r.status_code == 200, r.text
    uploaded = r.json()
    assert uploaded["state"] == "uploaded"
    assert uploaded["sha256"] == hashlib.sha256(GBS).hexdigest()
    assert uploaded["size"] == len(GBS)
    assert uploaded["interface_id"] == IFACE
    assert uploaded["parsed"]["format"] == "gbs"

    r = api.post(f"/v2/images/{image['uuid']}/approve")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "approved"
    assert api.get(f"/v2/images/{image['uuid']}").json()["state"] == "approved"
    assert [i["uuid"] for i in api.get("/v2/images?state=approved").json()["images"]] == [image["uuid"]]
    assert api.get("/v2/images?kind=firmware").json() == {"images": []}


def test_function_id_comes_from_the_bytes_when_not_declared(api: Api) -> None:
    image = create(api)
    assert upload(api, image, GBS).json()["function_id"] == AFU


def test_bytes_contradicting_the_record_reject_the_image(api: Api) -> None:
    image = create(api, interface_id=OTHER_IFACE)
    r = upload(api, image, GBS)
    assert r.status_code == 400
    assert "contradicts its record" in r.json()["error_message"]
    shown = api.get(f"/v2/images/{image['uuid']}").json()
    assert shown["state"] == "rejected"
    assert "interface" in shown["reject_reason"]
    # Rejected bytes are not kept, and a rejected image cannot be approved.
    assert api.get(f"/v2/images/{image['uuid']}/file").status_code == 409
    assert api.post(f"/v2/images/{image['uuid']}/approve").status_code == 409


@pytest.mark.parametrize(
    ("data", "needle"),
    [(GBS[:20], "not a valid image"), (b"MZ\x90\x00 not a bitstream", "not a bitstream format")],
)
def test_truncated_or_unknown_bitstreams_are_rejected(api: Api, data: bytes, needle: str) -> None:
    image = create(api)
    r = upload(api, image, data)
    assert r.status_code == 400
    assert needle in r.json()["error_message"]


def test_declared_sha256_must_match_the_upload(api: Api) -> None:
    image = create(api, sha256="ab" * 32)
    r = upload(api, image, GBS)
    assert r.status_code == 400
    assert "declared" in r.json()["error_message"]


def test_firmware_needs_a_version(api: Api) -> None:
    r = api.post("/v2/images", json={"name": "fw", "kind": "firmware"})
    assert r.status_code == 400
    assert "version" in r.json()["error_message"]
    image = create(api, name="fw", kind="firmware", version="2.0.1")
    r = upload(api, image, build_sim_firmware("2.0.1"))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "uploaded"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "kind": "virus"},
        {"kind": "bitstream"},
        {"name": "", "kind": "bitstream"},
        {"name": "x" * 256, "kind": "bitstream"},
        {"name": "x", "kind": "bitstream", "function_id": "not-a-uuid"},
        {"name": "x", "kind": "bitstream", "sha256": "xyz"},
        {"name": "x", "kind": "bitstream", "colour": "red"},
        {"name": "x", "kind": "bitstream", "properties": {"a": 1}},
        ["not", "an", "object"],
    ],
)
def test_bad_image_records_are_400_and_store_nothing(api: Api, body: Any) -> None:
    r = api.post("/v2/images", json=body)
    assert r.status_code == 400
    assert r.json()["error_message"]
    assert api.get("/v2/images").json() == {"images": []}


def test_duplicate_uuid_is_409(api: Api) -> None:
    image = create(api)
    r = api.post("/v2/images", json={"name": "again", "kind": "bitstream", "uuid": image["uuid"]})
    assert r.status_code == 409


def test_approved_bytes_never_change(api: Api) -> None:
    image = create(api)
    upload(api, image, GBS)
    api.post(f"/v2/images/{image['uuid']}/approve")
    r = upload(api, image, build_gbs(AFU, OTHER_IFACE))
    assert r.status_code == 409
    assert api.get(f"/v2/images/{image['uuid']}/file").content == GBS


def test_tampered_blob_is_not_approved(api: Api, app_settings: Any) -> None:
    image = create(api)
    upload(api, image, GBS)
    blob = app_settings.blob_dir / image["uuid"]
    blob.write_bytes(GBS[:-1] + b"\x01")
    r = api.post(f"/v2/images/{image['uuid']}/approve")
    assert r.status_code == 409
    assert "no longer match" in r.json()["error_message"]
    assert api.get(f"/v2/images/{image['uuid']}").json()["state"] == "uploaded"


def test_signature_is_checked_against_trusted_keys(api: Api) -> None:
    key = Ed25519PrivateKey.generate()
    good = sign_digest(key, hashlib.sha256(GBS).hexdigest())
    image = create(api, signature=good)
    upload(api, image, GBS)
    r = api.post(f"/v2/images/{image['uuid']}/approve")
    assert r.status_code == 400
    assert "no trusted key" in r.json()["error_message"]
    assert (
        api.post("/v2/trusted_keys", json={"name": "ops", "public_key": public_key_pem(key)}).status_code
        == 201
    )
    assert api.post(f"/v2/images/{image['uuid']}/approve").status_code == 200

    forged = create(api, name="forged", signature=sign_digest(Ed25519PrivateKey.generate(), "00" * 32))
    upload(api, forged, GBS)
    r = api.post(f"/v2/images/{forged['uuid']}/approve")
    assert r.status_code == 400
    assert "does not verify" in r.json()["error_message"]


def test_download_streams_the_exact_bytes_to_agents_only_when_approved(api: Api) -> None:
    image = create(api)
    upload(api, image, GBS)
    assert api.as_(AGENT_A).get(f"/v2/images/{image['uuid']}/file").status_code == 409
    api.post(f"/v2/images/{image['uuid']}/approve")
    r = api.as_(AGENT_A).get(f"/v2/images/{image['uuid']}/file")
    assert r.status_code == 200
    assert r.content == GBS
    assert r.headers["x-image-sha256"] == hashlib.sha256(GBS).hexdigest()


def test_members_cannot_touch_the_catalog(api: Api) -> None:
    member = api.as_(MEMBER)
    assert member.get("/v2/images").status_code == 403
    assert member.post("/v2/images", json={"name": "x", "kind": "bitstream"}).status_code == 403


def test_upload_over_the_limit_is_413_and_keeps_the_image_queued(api: Api, client: Any) -> None:
    client.app.state.accord.settings = client.app.state.accord.settings.__class__(
        **{**client.app.state.accord.settings.__dict__, "max_image_bytes": 100}
    )
    image = create(api)
    r = upload(api, image, GBS + b"\0" * 200)
    assert r.status_code == 413
    assert api.get(f"/v2/images/{image['uuid']}").json()["state"] == "queued"


def test_reject_and_delete(api: Api) -> None:
    image = create(api)
    upload(api, image, GBS)
    assert api.post(f"/v2/images/{image['uuid']}/reject", json={}).status_code == 400
    r = api.post(f"/v2/images/{image['uuid']}/reject", json={"reason": "fails timing"})
    assert r.status_code == 200
    assert r.json()["reject_reason"] == "fails timing"
    assert api.delete(f"/v2/images/{image['uuid']}").status_code == 204
    assert api.get(f"/v2/images/{image['uuid']}").status_code == 404
    assert api.get(f"/v2/images/{image['uuid']}/file").status_code == 404


def test_image_loaded_in_a_region_cannot_be_deleted(api: Api, db: Any) -> None:
    from sqlalchemy import update

    from accord.store.models import Deployable

    api.post("/v2/hosts/host-a/inventory", json=fpga_host_snapshot("host-a"))
    image = create(api)
    with db.write() as session:
        session.execute(update(Deployable).values(bitstream_id=image["uuid"]))
    r = api.delete(f"/v2/images/{image['uuid']}")
    assert r.status_code == 409
    assert "loaded in region" in r.json()["error_message"]
    assert api.get(f"/v2/images/{image['uuid']}").status_code == 200
