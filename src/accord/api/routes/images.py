"""/v2/images: the vetted catalog (Accord's own, Glance-like: bare objects, `{"images": [...]}`)."""

from __future__ import annotations

import os
import uuid
from typing import Any

from fastapi import Body, Depends, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from accord.api import render
from accord.api.policy import authorize
from accord.api.state import AppState, app_state, base_url, context
from accord.domain.context import RequestContext
from accord.domain.errors import BadState, InvalidInput, TooLarge
from accord.images.blobstore import BlobNotFound, BlobStore, BlobTooLarge
from accord.images.formats.detect import detect_and_parse
from accord.images.formats.model import ImageFormatError, ParsedImage
from accord.store import audit, images


def _blobs(state: AppState) -> BlobStore:
    return BlobStore(state.settings.blob_dir)


def create(request: Request, body: Any = Body(None), ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "image:create")
    with app_state(request).db.write() as session:
        row = images.create_image(session, body, ctx.user_id)
        audit.record(session, ctx, "image.create", "image", row.uuid, "success", kind=row.kind, name=row.name)
        return JSONResponse(render.image(base_url(request), row), status_code=201)


def list_(
    request: Request,
    kind: str | None = None,
    state: str | None = None,
    function_id: str | None = None,
    vendor: str | None = None,
    name: str | None = None,
    ctx: RequestContext = Depends(context),
) -> Any:
    authorize(ctx, "image:get")
    with app_state(request).db.read() as session:
        rows = images.list_images(session, kind, state, function_id, vendor, name)
        base = base_url(request)
        return {"images": [render.image(base, r) for r in rows]}


def show(request: Request, image_uuid: str, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "image:get")
    with app_state(request).db.read() as session:
        return render.image(base_url(request), images.get_image(session, image_uuid))


def _parse(path: str) -> tuple[ParsedImage | None, str | None]:
    try:
        return detect_and_parse(path), None
    except ImageFormatError as exc:
        return None, images.format_error_text(exc)


async def upload(request: Request, image_uuid: str, ctx: RequestContext = Depends(context)) -> Any:
    """Stream the body to a staging blob (constant memory, sha256 while streaming), parse its
    header, then move it into place under the image's row lock, so an image approved meanwhile
    never has its bytes swapped."""
    authorize(ctx, "image:upload")
    state = app_state(request)

    def check() -> str:
        with state.db.read() as session:
            row = images.get_image(session, image_uuid)
            images.check_uploadable(row)
            return row.uuid

    canonical = await run_in_threadpool(check)
    blobs = _blobs(state)
    staging = str(uuid.uuid4())
    try:
        size, sha256 = await blobs.write_async(staging, request.stream(), state.settings.max_image_bytes)
    except BlobTooLarge as exc:
        raise TooLarge(
            f"The image is larger than the {exc.limit}-byte limit (ACCORD_MAX_IMAGE_BYTES)."
        ) from exc
    parsed, format_error = await run_in_threadpool(_parse, str(blobs.path(staging)))

    def finish() -> tuple[dict[str, Any], str | None]:
        with state.db.write() as session:
            row = images.get_image_for_update(session, canonical)
            images.check_uploadable(row)
            reason = images.finish_upload(session, row, size, sha256, parsed, format_error)
            if reason is None:
                os.replace(blobs.path(staging), blobs.path(canonical))
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
            return render.image(base_url(request), row), reason

    try:
        rendered, reason = await run_in_threadpool(finish)
    finally:
        blobs.delete(staging)
    if reason is not None:
        raise InvalidInput(f"Image {canonical} is rejected: {reason}.")
    return rendered


def download(request: Request, image_uuid: str, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "image:download")
    state = app_state(request)
    with state.db.read() as session:
        row = images.get_image(session, image_uuid)
        if not ctx.is_admin and row.state != "approved":
            raise BadState(f"Image {row.uuid} is {row.state}; agents only receive approved images.")
        sha256 = row.sha256
    blobs = _blobs(state)
    try:
        handle = blobs.open(row.uuid)
    except BlobNotFound as exc:
        raise BadState(f"Image {row.uuid} has no uploaded bytes.") from exc

    def chunks() -> Any:
        with handle:
            while chunk := handle.read(1 << 20):
                yield chunk

    headers = {"X-Image-Sha256": sha256 or "", "Content-Length": str(os.fstat(handle.fileno()).st_size)}
    return StreamingResponse(chunks(), media_type="application/octet-stream", headers=headers)


def approve(request: Request, image_uuid: str, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "image:approve")
    state = app_state(request)
    with state.db.read() as session:
        row = images.get_image(session, image_uuid)
        canonical, sha256 = row.uuid, row.sha256 or ""
    # Re-hash what is on disk: bytes changed behind the catalog's back are never approved.
    intact = bool(sha256) and _blobs(state).verify(canonical, sha256)
    with state.db.write() as session:
        row = images.get_image_for_update(session, canonical)
        try:
            images.approve(session, row, state.settings.require_signatures, intact and row.sha256 == sha256)
        except InvalidInput as exc:
            refused = exc
        else:
            audit.record(session, ctx, "image.approve", "image", row.uuid, "success", image_sha256=row.sha256)
            return render.image(base_url(request), row)
    # A refused approval is audited in its own transaction: the image itself stays as it was.
    with state.db.write() as session:
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


def reject(
    request: Request, image_uuid: str, body: Any = Body(None), ctx: RequestContext = Depends(context)
) -> Any:
    authorize(ctx, "image:approve")
    reason = body.get("reason") if isinstance(body, dict) else None
    with app_state(request).db.write() as session:
        row = images.get_image_for_update(session, image_uuid)
        images.reject(row, reason)
        audit.record(session, ctx, "image.reject", "image", row.uuid, "success", reason=row.reject_reason)
        return render.image(base_url(request), row)


def delete(request: Request, image_uuid: str, ctx: RequestContext = Depends(context)) -> Response:
    authorize(ctx, "image:delete")
    state = app_state(request)
    with state.db.write() as session:
        row = images.get_image_for_update(session, image_uuid)
        images.check_deletable(session, row)
        canonical = row.uuid
        audit.record(session, ctx, "image.delete", "image", canonical, "success", image_sha256=row.sha256)
        session.delete(row)
    _blobs(state).delete(canonical)
    return Response(status_code=204)
