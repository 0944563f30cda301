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
from accord.api.schemas import ImageCreate, ImageReject, parse
from accord.api.state import app_state, base_url, context
from accord.domain.context import RequestContext
from accord.domain.errors import TooLarge
from accord.images.blobstore import BlobTooLarge
from accord.services import catalog
from accord.store import images


def create(request: Request, body: Any = Body(None), ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "image:create")
    wanted = parse(ImageCreate, body)
    row = catalog.create_image(app_state(request), ctx, wanted.model_dump(exclude_unset=True))
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


async def upload(request: Request, image_uuid: str, ctx: RequestContext = Depends(context)) -> Any:
    """Stream the body to a staging blob (constant memory, sha256 while streaming), then let the
    catalog parse and record it."""
    authorize(ctx, "image:upload")
    state = app_state(request)
    canonical = await run_in_threadpool(catalog.uploadable, state, image_uuid)
    blobs = catalog.blobs(state)
    staging = str(uuid.uuid4())
    try:
        size, sha256 = await blobs.write_async(staging, request.stream(), state.settings.max_image_bytes)
    except BlobTooLarge as exc:
        raise TooLarge(
            f"The image is larger than the {exc.limit}-byte limit (ACCORD_MAX_IMAGE_BYTES)."
        ) from exc
    try:
        row = await run_in_threadpool(catalog.finish_upload, state, ctx, canonical, staging, size, sha256)
    finally:
        blobs.delete(staging)
    return render.image(base_url(request), row)


def download(request: Request, image_uuid: str, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "image:download")
    row, handle = catalog.downloadable(app_state(request), ctx, image_uuid)

    def chunks() -> Any:
        with handle:
            while chunk := handle.read(1 << 20):
                yield chunk

    headers = {"X-Image-Sha256": row.sha256 or "", "Content-Length": str(os.fstat(handle.fileno()).st_size)}
    return StreamingResponse(chunks(), media_type="application/octet-stream", headers=headers)


def approve(request: Request, image_uuid: str, ctx: RequestContext = Depends(context)) -> Any:
    authorize(ctx, "image:approve")
    return render.image(base_url(request), catalog.approve(app_state(request), ctx, image_uuid))


def reject(
    request: Request, image_uuid: str, body: Any = Body(None), ctx: RequestContext = Depends(context)
) -> Any:
    authorize(ctx, "image:approve")
    reason = parse(ImageReject, body).reason
    return render.image(base_url(request), catalog.reject(app_state(request), ctx, image_uuid, reason))


def delete(request: Request, image_uuid: str, ctx: RequestContext = Depends(context)) -> Response:
    authorize(ctx, "image:delete")
    catalog.delete_image(app_state(request), ctx, image_uuid)
    return Response(status_code=204)
