"""Detached ed25519 signatures over an image's sha256, checked against the operator's trusted keys.

What is signed: the 32 raw bytes of the image's SHA-256 digest (not its hex text, not the image).
Signing the digest lets a signer work from the catalog's sha256 without the multi-gigabyte blob,
and the blob store already computes the digest while streaming. Signatures travel as standard
base64 of the 64-byte ed25519 signature.

Keys are accepted as PEM (SubjectPublicKeyInfo), OpenSSH (`ssh-ed25519 AAAA...`), base64 of the
32 raw key bytes, or those raw bytes. A key's fingerprint is `sha256:` + the hex SHA-256 of its
32 raw bytes, whatever form it was given in, so one key always has one id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

RAW_KEY_LENGTH = 32
SIGNATURE_LENGTH = 64


class SignatureError(ValueError):
    """A key, digest or signature is malformed, or the signature verifies with no trusted key."""


def _strict_b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{what} is not valid base64") from None


def load_public_key(key: bytes | str) -> Ed25519PublicKey:
    """An ed25519 public key from PEM, OpenSSH, base64 of the raw 32 bytes, or the raw bytes."""
    data = key.encode() if isinstance(key, str) else bytes(key)
    stripped = data.strip()
    loaded: object
    try:
        if stripped.startswith(b"-----BEGIN"):
            loaded = serialization.load_pem_public_key(stripped)
        elif stripped.startswith(b"ssh-"):
            loaded = serialization.load_ssh_public_key(stripped)
        elif isinstance(key, bytes) and len(key) == RAW_KEY_LENGTH:
            loaded = Ed25519PublicKey.from_public_bytes(key)
        else:
            raw = _strict_b64(stripped.decode("ascii", "replace"), "public key")
            if len(raw) != RAW_KEY_LENGTH:
                raise SignatureError(f"raw public key is {len(raw)} bytes, ed25519 keys are {RAW_KEY_LENGTH}")
            loaded = Ed25519PublicKey.from_public_bytes(raw)
    except SignatureError:
        raise
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SignatureError(f"unreadable public key: {exc}") from None
    if not isinstance(loaded, Ed25519PublicKey):
        raise SignatureError(f"public key is {type(loaded).__name__}, not ed25519")
    return loaded


def raw_public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_fingerprint(key: bytes | str | Ed25519PublicKey) -> str:
    """`sha256:<hex>` of the key's raw 32 bytes; raises SignatureError on an unreadable key."""
    public = key if isinstance(key, Ed25519PublicKey) else load_public_key(key)
    return "sha256:" + hashlib.sha256(raw_public_bytes(public)).hexdigest()


def _digest_bytes(sha256_hex: str) -> bytes:
    text = sha256_hex.strip().lower()
    if len(text) != 64:
        raise SignatureError(f"sha256 must be 64 hex characters, got {len(text)}")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise SignatureError("sha256 is not hexadecimal") from None


def verify_signature(public_keys: Sequence[bytes | str], sha256_hex: str, signature_b64: str) -> str:
    """The fingerprint of the first trusted key under which `signature_b64` signs `sha256_hex`.

    Raises SignatureError when there are no keys, an input is malformed, or no key verifies.
    """
    if not public_keys:
        raise SignatureError("no trusted keys are configured")
    digest = _digest_bytes(sha256_hex)
    signature = _strict_b64(signature_b64, "signature")
    if len(signature) != SIGNATURE_LENGTH:
        raise SignatureError(
            f"signature is {len(signature)} bytes, ed25519 signatures are {SIGNATURE_LENGTH}"
        )
    keys = [load_public_key(key) for key in public_keys]
    for key in keys:
        try:
            key.verify(signature, digest)
        except InvalidSignature:
            continue
        return key_fingerprint(key)
    raise SignatureError(f"signature does not verify with any of the {len(keys)} trusted key(s)")


def sign_digest(private_key: Ed25519PrivateKey, sha256_hex: str) -> str:
    """The base64 signature `verify_signature` accepts: for tests, the demo and the CLI."""
    return base64.b64encode(private_key.sign(_digest_bytes(sha256_hex))).decode("ascii")


def public_key_pem(private_key: Ed25519PrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
