"""Catalog use cases: the vetted images and the keys that sign them.

Every step is audited, refusals included. Bytes live in the blob store; the record in the store;
the image life cycle in `domain/image.py`.
"""

from __future__ import annotations

import os
from typing import Any

from accord.domain.context import RequestContext
from accord.domain.errors import BadState, InvalidInput
from accord.domain.image import ImageState, check_upload
from accord.images.blobstore import BlobNotFound, BlobStore
from accord.images.formats.detect import detect_and_parse
from accord.images.formats.firmware import FirmwareFacts, parse_firmware_file
from accord.images.formats.model import ImageFormatError, ParsedImage
from accord.services.app import Services
from accord.store import audit, images, keys
from accord.store.models import Image, TrustedKey


def blobs(services: Services) -> BlobStore:
    return BlobStore(services.settings.blob_dir)


def create_image(services: Services, ctx: RequestContext, body: Any) -> Image:
    with services.db.write() as session:
        row = images.create_image(session, body, ctx.user_id)
        audit.record(session, ctx, "image.create", "image", row.uuid, "success", kind=row.kind, name=row.name)
        return row


def uploadable(services: Services, image_uuid: str) -> str:
    """The canonical uuid of an image whose bytes may still be uploaded."""
    with services.db.read() as session:
        row = images.get_image(session, image_uuid)
        check_upload(row.uuid, row.state)
        return row.uuid


def parse_blob(path: str) -> tuple[ParsedImage | None, str | None]:
    try:
        return detect_and_parse(path), None
    except ImageFormatError as exc:
        return None, images.format_error_text(exc)


def parse_firmware_blob(path: str) -> tuple[FirmwareFacts | None, str | None]:
    try:
        return parse_firmware_file(path), None
    except ImageFormatError as exc:
        return None, images.format_error_text(exc)


def finish_upload(
    services: Services, ctx: RequestContext, image_uuid: str, staging: str, size: int, sha256: str
) -> Image:
    """Record what arrived in `staging` and move it into place under the image's row lock, so an
    image approved meanwhile never has its bytes swapped. Bytes that contradict the record reject
    the image (kept, audited) and answer 400."""
    store = blobs(services)
    parsed, format_error = parse_blob(str(store.path(staging)))
    firmware, firmware_error = parse_firmware_blob(str(store.path(staging)))
    with services.db.write() as session:
        row = images.get_image_for_update(session, image_uuid)
        check_upload(row.uuid, row.state)
        reason = images.finish_upload(
            session, row, size, sha256, parsed, format_error, firmware, firmware_error
        )
        if reason is None:
            os.replace(store.path(staging), store.path(row.uuid))
        outcome = "refused" if reason else "success"
        audit.record(
            session,
            ctx,
            "image.upload",
            "image",
            row.uuid,
            outcome,
            image_sha256=sha256,
            size=size,
            reason=reason,
        )
    if reason is not None:
        raise InvalidInput(f"Image {row.uuid} is rejected: {reason}.")
    return row


def downloadable(services: Services, ctx: RequestContext, image_uuid: str) -> tuple[Image, Any]:
    """The image and an open handle on its bytes; agents only receive approved images."""
    with services.db.read() as session:
        row = images.get_image(session, image_uuid)
    if not ctx.is_admin and row.state != ImageState.APPROVED:
        raise BadState(f"Image {row.uuid} is {row.state}; agents only receive approved images.")
    try:
        return row, blobs(services).open(row.uuid)
    except BlobNotFound as exc:
        raise BadState(f"Image {row.uuid} has no uploaded bytes.") from exc


def approve(services: Services, ctx: RequestContext, image_uuid: str) -> Image:
    with services.db.read() as session:
        row = images.get_image(session, image_uuid)
        canonical, sha256 = row.uuid, row.sha256 or ""
    # Re-hash what is on disk: bytes changed behind the catalog's back are never approved.
    intact = bool(sha256) and blobs(services).verify(canonical, sha256)
    with services.db.write() as session:
        row = images.get_image_for_update(session, canonical)
        try:
            images.approve(
                session, row, services.settings.require_signatures, intact and row.sha256 == sha256
            )
        except InvalidInput as exc:
            refused = exc
        else:
            audit.record(session, ctx, "image.approve", "image", row.uuid, "success", image_sha256=row.sha256)
            return row
    # A refused approval is audited in its own transaction: the image itself stays as it was.
    with services.db.write() as session:
        audit.record(
            session,
            ctx,
            "image.approve",
            "image",
            canonical,
            "refused",
            image_sha256=sha256,
            reason=refused.message,
        )
    raise refused


def reject(services: Services, ctx: RequestContext, image_uuid: str, reason: object) -> Image:
    with services.db.write() as session:
        row = images.get_image_for_update(session, image_uuid)
        images.reject(row, reason)
        audit.record(session, ctx, "image.reject", "image", row.uuid, "success", reason=row.reject_reason)
        return row


def delete_image(services: Services, ctx: RequestContext, image_uuid: str) -> None:
    with services.db.write() as session:
        row = images.get_image_for_update(session, image_uuid)
        images.check_deletable(session, row)
        canonical = row.uuid
        audit.record(session, ctx, "image.delete", "image", canonical, "success", image_sha256=row.sha256)
        session.delete(row)
    blobs(services).delete(canonical)


def add_key(services: Services, ctx: RequestContext, body: Any) -> TrustedKey:
    with services.db.write() as session:
        row = keys.add_key(session, body)
        audit.record(session, ctx, "key.add", "trusted_key", row.uuid, "success", fingerprint=row.fingerprint)
        return row


def delete_key(services: Services, ctx: RequestContext, ident: str) -> None:
    with services.db.write() as session:
        row = keys.get_key(session, ident)
        audit.record(
            session, ctx, "key.delete", "trusted_key", row.uuid, "success", fingerprint=row.fingerprint
        )
        session.delete(row)
