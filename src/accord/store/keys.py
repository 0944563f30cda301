"""Trusted ed25519 public keys: the signers whose image signatures Accord accepts."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.domain.device_profile import looks_like_uuid
from accord.domain.errors import DuplicateName, InvalidInput, NotFound
from accord.store.models import TrustedKey


def add_key(session: Session, body: Any) -> TrustedKey:
    if not isinstance(body, dict) or set(body) - {"name", "public_key"} or "public_key" not in body:
        raise InvalidInput('The body must be {"name": "...", "public_key": "<PEM or base64 ed25519 key>"}.')
    name, text = body.get("name"), body["public_key"]
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise InvalidInput("A trusted key needs a 'name' of 1 to 255 characters.")
    if not isinstance(text, str) or len(text) > 4096:
        raise InvalidInput("'public_key' must be a PEM or base64 ed25519 public key.")
    from accord.images.signatures import SignatureError, key_fingerprint, load_public_key, raw_public_bytes

    try:
        key = load_public_key(text)
    except SignatureError as exc:
        raise InvalidInput(f"'public_key' is not an ed25519 public key: {exc}") from exc
    fingerprint = key_fingerprint(key)
    if session.scalar(select(TrustedKey.id).where(TrustedKey.name == name.strip())) is not None:
        raise DuplicateName(f"A trusted key named {name.strip()!r} exists.")
    if session.scalar(select(TrustedKey.name).where(TrustedKey.fingerprint == fingerprint)) is not None:
        raise DuplicateName(f"Key {fingerprint} is already trusted.")
    row = TrustedKey(
        name=name.strip(),
        public_key=base64.b64encode(raw_public_bytes(key)).decode(),
        fingerprint=fingerprint,
    )
    session.add(row)
    session.flush()
    return row


def list_keys(session: Session) -> Sequence[TrustedKey]:
    return list(session.scalars(select(TrustedKey).order_by(TrustedKey.id)))


def get_key(session: Session, ident: str) -> TrustedKey:
    query = select(TrustedKey)
    query = (
        query.where(TrustedKey.uuid == ident.lower())
        if looks_like_uuid(ident)
        else query.where(TrustedKey.name == ident)
    )
    row = session.scalar(query)
    if row is None:
        raise NotFound(f"Trusted key {ident} could not be found.")
    return row
