"""/v2/trusted_keys: admins register the ed25519 keys image signatures are checked against."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.images.signatures import key_fingerprint, public_key_pem
from tests.api.conftest import MEMBER, Api


def test_add_list_show_delete(api: Api) -> None:
    key = Ed25519PrivateKey.generate()
    pem = public_key_pem(key)
    r = api.post("/v2/trusted_keys", json={"name": "release", "public_key": pem})
    assert r.status_code == 201, r.text
    added = r.json()
    assert added["name"] == "release"
    assert added["fingerprint"] == key_fingerprint(pem)
    assert [k["name"] for k in api.get("/v2/trusted_keys").json()["trusted_keys"]] == ["release"]
    assert api.get("/v2/trusted_keys/release").json()["uuid"] == added["uuid"]
    assert api.delete(f"/v2/trusted_keys/{added['uuid']}").status_code == 204
    assert api.get("/v2/trusted_keys").json() == {"trusted_keys": []}


def test_same_key_or_name_twice_is_409(api: Api) -> None:
    pem = public_key_pem(Ed25519PrivateKey.generate())
    assert api.post("/v2/trusted_keys", json={"name": "a", "public_key": pem}).status_code == 201
    assert api.post("/v2/trusted_keys", json={"name": "b", "public_key": pem}).status_code == 409
    other = public_key_pem(Ed25519PrivateKey.generate())
    assert api.post("/v2/trusted_keys", json={"name": "a", "public_key": other}).status_code == 409


def test_not_a_key_is_400(api: Api) -> None:
    for body in ({"name": "x", "public_key": "hello"}, {"name": "x"}, {"public_key": 5}, []):
        r = api.post("/v2/trusted_keys", json=body)
        assert r.status_code == 400, body
        assert r.json()["error_message"]
    assert api.get("/v2/trusted_keys").json() == {"trusted_keys": []}


def test_only_admins(api: Api) -> None:
    assert api.as_(MEMBER).get("/v2/trusted_keys").status_code == 403
    pem = public_key_pem(Ed25519PrivateKey.generate())
    assert api.as_(MEMBER).post("/v2/trusted_keys", json={"name": "x", "public_key": pem}).status_code == 403
