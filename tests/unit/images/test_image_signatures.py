"""Detached ed25519 signatures over an image's sha256."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.images.signatures import (
    SignatureError,
    key_fingerprint,
    load_public_key,
    public_key_pem,
    raw_public_bytes,
    sign_digest,
    verify_signature,
)

IMAGE_SHA = hashlib.sha256(b"an fpga image").hexdigest()


@pytest.fixture
def signer() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _raw_b64(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(raw_public_bytes(key.public_key())).decode()


def _openssh(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)


def test_valid_signature_verifies_and_names_the_key(signer: Ed25519PrivateKey) -> None:
    signature = sign_digest(signer, IMAGE_SHA)
    assert verify_signature([public_key_pem(signer)], IMAGE_SHA, signature) == key_fingerprint(
        public_key_pem(signer)
    )


def test_signature_is_over_the_raw_digest_bytes(signer: Ed25519PrivateKey) -> None:
    # Signed independently of sign_digest, exactly as documented: the 32 digest bytes.
    signature = base64.b64encode(signer.sign(bytes.fromhex(IMAGE_SHA))).decode()
    verify_signature([_raw_b64(signer)], IMAGE_SHA.upper(), signature)


def test_fingerprint_is_the_same_for_every_key_form(signer: Ed25519PrivateKey) -> None:
    raw = raw_public_bytes(signer.public_key())
    forms: list[bytes | str] = [public_key_pem(signer), _raw_b64(signer), raw, _openssh(signer)]
    fingerprints = {key_fingerprint(form) for form in forms}
    assert fingerprints == {"sha256:" + hashlib.sha256(raw).hexdigest()}


def test_the_key_that_verified_is_reported_among_several(signer: Ed25519PrivateKey) -> None:
    other = Ed25519PrivateKey.generate()
    signature = sign_digest(signer, IMAGE_SHA)
    found = verify_signature([public_key_pem(other), _raw_b64(signer)], IMAGE_SHA, signature)
    assert found == key_fingerprint(_raw_b64(signer))
    assert found != key_fingerprint(public_key_pem(other))


def test_wrong_key_is_refused(signer: Ed25519PrivateKey) -> None:
    other = Ed25519PrivateKey.generate()
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature([public_key_pem(other)], IMAGE_SHA, sign_digest(signer, IMAGE_SHA))


def test_tampered_hash_is_refused(signer: Ed25519PrivateKey) -> None:
    signature = sign_digest(signer, IMAGE_SHA)
    tampered = hashlib.sha256(b"another image").hexdigest()
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature([public_key_pem(signer)], tampered, signature)


def test_tampered_signature_is_refused(signer: Ed25519PrivateKey) -> None:
    raw = bytearray(base64.b64decode(sign_digest(signer, IMAGE_SHA)))
    raw[0] ^= 1
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature([public_key_pem(signer)], IMAGE_SHA, base64.b64encode(bytes(raw)).decode())


@pytest.mark.parametrize(
    ("signature", "reason"),
    [("%%% not base64 %%%", "not valid base64"), (base64.b64encode(b"short").decode(), "5 bytes")],
)
def test_garbage_signature_is_refused(signer: Ed25519PrivateKey, signature: str, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify_signature([public_key_pem(signer)], IMAGE_SHA, signature)


@pytest.mark.parametrize("digest", ["abc", "zz" * 32, ""])
def test_malformed_sha256_is_refused(signer: Ed25519PrivateKey, digest: str) -> None:
    with pytest.raises(SignatureError, match="sha256"):
        verify_signature([public_key_pem(signer)], digest, sign_digest(signer, IMAGE_SHA))


def test_no_trusted_keys_is_refused(signer: Ed25519PrivateKey) -> None:
    with pytest.raises(SignatureError, match="no trusted keys"):
        verify_signature([], IMAGE_SHA, sign_digest(signer, IMAGE_SHA))


def test_unreadable_and_non_ed25519_keys_are_refused() -> None:
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(SignatureError, match="not ed25519"):
        load_public_key(ec_pem)
    with pytest.raises(SignatureError, match="unreadable"):
        load_public_key("-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n")
    with pytest.raises(SignatureError, match="not valid base64"):
        load_public_key("not a key at all!")
    with pytest.raises(SignatureError, match="16 bytes"):
        load_public_key(base64.b64encode(b"\1" * 16).decode())
