"""The app factory and the one route table of the whole API.

Every path and method is listed here; FastAPI answers 405 for a known path with another
method and 404 for anything else, both in Cyborg's error format.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, NamedTuple

from fastapi import APIRouter, FastAPI, Response
from fastapi.datastructures import Default
from pydantic import BaseModel
from starlette.routing import BaseRoute

from accord import __version__
from accord.api import schemas
from accord.api.auth import make_authenticator
from accord.api.console import install_console
from accord.api.dispatch import Dispatcher, plan_routes
from accord.api.endpoint import json_endpoint, responder
from accord.api.errors import install_error_handlers
from accord.api.metrics import Metrics
from accord.api.middleware import AccordMiddleware
from accord.api.openapi import install_openapi
from accord.api.routes import (
    accelerator_requests,
    allocation_candidates,
    attributes,
    audit_events,
    deployables,
    device_profiles,
    devices,
    firmware_rollouts,
    health,
    hosts,
    images,
    operations,
    partitions,
    program,
    quotas,
    trusted_keys,
    versions,
)
from accord.api.state import AppState
from accord.config import Settings
from accord.nova import NovaNotifier
from accord.reconcile import Reconciler
from accord.schemas.inventory import Heartbeat, InventorySnapshot
from accord.services.app import Services
from accord.store.db import Database
from accord.store.providers import choose_deployables
from accord.store.scheduler_cache import SchedulerCache

log = logging.getLogger(__name__)


class Route(NamedTuple):
    method: str
    path: str
    handler: Callable[..., Any]
    status: int = 200
    summary: str = ""
    body: type[BaseModel] | None = None  # parses the request body and describes it in /openapi.json


ROUTES: list[Route] = [
    Route("GET", "/", versions.root, summary="API versions"),
    Route("GET", "/v2", versions.v2, summary="The v2 API and its microversion range"),
    Route("GET", "/healthz", health.healthz, summary="The process answers (no authentication)"),
    Route("GET", "/readyz", health.readyz, summary="The database answers and its schema is current"),
    Route("GET", "/v2/device_profiles", device_profiles.list_),
    Route("POST", "/v2/device_profiles", device_profiles.create, 201, body=schemas.DeviceProfileCreate),
    Route("DELETE", "/v2/device_profiles", device_profiles.delete_many, 204),
    Route("GET", "/v2/device_profiles/{ident}", device_profiles.show),
    Route("DELETE", "/v2/device_profiles/{ident}", device_profiles.delete_one, 204),
    Route("GET", "/v2/accelerator_requests", accelerator_requests.list_),
    Route("POST", "/v2/accelerator_requests", accelerator_requests.create, 201, body=schemas.ARQCreate),
    Route("PATCH", "/v2/accelerator_requests", accelerator_requests.patch, 202, body=schemas.ARQPatch),
    Route("DELETE", "/v2/accelerator_requests", accelerator_requests.delete, 204),
    Route("GET", "/v2/accelerator_requests/{arq_uuid}", accelerator_requests.show),
    Route(
        "PATCH",
        "/v2/accelerator_requests/{arq_uuid}",
        accelerator_requests.patch_one,
        202,
        body=schemas.ARQPatch,
    ),
    Route("DELETE", "/v2/accelerator_requests/{arq_uuid}", accelerator_requests.delete_one, 204),
    Route("GET", "/v2/devices", devices.list_),
    Route("GET", "/v2/devices/{device_uuid}", devices.show),
    Route("POST", "/v2/devices/{device_uuid}/disable", devices.disable),
    Route("POST", "/v2/devices/{device_uuid}/enable", devices.enable),
    Route("GET", "/v2/devices/{device_uuid}/health", devices.health),
    Route("PUT", "/v2/devices/{device_uuid}/vgpu_type", partitions.set_vgpu_type, body=schemas.VgpuTypePin),
    Route(
        "POST", "/v2/devices/{device_uuid}/firmware", devices.flash_firmware, 202, body=schemas.FirmwareFlash
    ),
    Route("GET", "/v2/firmware_rollouts", firmware_rollouts.list_),
    Route("POST", "/v2/firmware_rollouts", firmware_rollouts.create, 201, body=schemas.FirmwareRolloutCreate),
    Route("GET", "/v2/firmware_rollouts/{rollout_uuid}", firmware_rollouts.show),
    Route("POST", "/v2/firmware_rollouts/{rollout_uuid}/pause", firmware_rollouts.pause),
    Route("POST", "/v2/firmware_rollouts/{rollout_uuid}/resume", firmware_rollouts.resume),
    Route("POST", "/v2/firmware_rollouts/{rollout_uuid}/abort", firmware_rollouts.abort),
    Route("GET", "/v2/deployables", deployables.list_),
    Route("GET", "/v2/deployables/{deployable_uuid}", deployables.show),
    Route(
        "PATCH", "/v2/deployables/{deployable_uuid}/program", program.program, body=schemas.DeployableProgram
    ),
    Route("GET", "/v2/attributes", attributes.list_),
    Route("POST", "/v2/attributes", attributes.create, 201, body=schemas.AttributeCreate),
    Route("GET", "/v2/attributes/{attribute_uuid}", attributes.show),
    Route("DELETE", "/v2/attributes/{attribute_uuid}", attributes.delete, 204),
    Route("GET", "/v2/hosts", hosts.list_),
    Route("GET", "/v2/hosts/{hostname}", hosts.show),
    Route("PUT", "/v2/hosts/{hostname}", hosts.enrol, body=schemas.HostEnrolment),
    Route("POST", "/v2/hosts/{hostname}/inventory", hosts.report_inventory, body=InventorySnapshot),
    Route(
        "POST",
        "/v2/hosts/{hostname}/operations",
        operations.start_own,
        201,
        body=schemas.HostOperationStart,
    ),
    Route("POST", "/v2/hosts/{hostname}/heartbeat", hosts.heartbeat, body=Heartbeat),
    Route("GET", "/v2/hosts/{hostname}/resourceslices", partitions.resource_slices),
    Route("GET", "/v2/deviceclasses", partitions.device_classes),
    Route("POST", "/v2/hosts/{hostname}/operations/claim", operations.claim, body=schemas.ClaimRequest),
    Route(
        "POST",
        "/v2/hosts/{hostname}/operations/{operation_uuid}",
        operations.finish,
        body=schemas.OperationResult,
    ),
    Route("GET", "/v2/allocation_candidates", allocation_candidates.list_),
    Route("GET", "/v2/quotas", quotas.list_),
    Route("PUT", "/v2/quotas/{project_id}/{resource_class}", quotas.put, body=schemas.QuotaLimit),
    Route("DELETE", "/v2/quotas/{project_id}/{resource_class}", quotas.delete, 204),
    Route("GET", "/v2/operations", operations.list_),
    Route("GET", "/v2/operations/{operation_uuid}", operations.show),
    Route("GET", "/v2/images", images.list_),
    Route("POST", "/v2/images", images.create, 201, body=schemas.ImageCreate),
    Route("GET", "/v2/images/{image_uuid}", images.show),
    Route("DELETE", "/v2/images/{image_uuid}", images.delete, 204),
    Route("PUT", "/v2/images/{image_uuid}/file", images.upload, summary="Upload the image's bytes"),
    Route("GET", "/v2/images/{image_uuid}/file", images.download, summary="Download the image's bytes"),
    Route("POST", "/v2/images/{image_uuid}/approve", images.approve),
    Route("POST", "/v2/images/{image_uuid}/reject", images.reject, body=schemas.ImageReject),
    Route("GET", "/v2/trusted_keys", trusted_keys.list_),
    Route("POST", "/v2/trusted_keys", trusted_keys.create, 201, body=schemas.TrustedKeyCreate),
    Route("GET", "/v2/trusted_keys/{ident}", trusted_keys.show),
    Route("DELETE", "/v2/trusted_keys/{ident}", trusted_keys.delete, 204),
    Route("GET", "/v2/audit_events", audit_events.list_),
]


def add_routes(router: APIRouter, documented: bool) -> None:
    """The route table on a router. Serving routes build no response model: handlers render
    their own JSON (`json_endpoint`), and a response model per route is ~11 MiB of validators
    the server never runs. The documented routes (built only for /openapi.json) keep them, so
    the document still describes each response from the handler's return type."""
    for route in ROUTES:
        router.add_api_route(
            route.path,
            json_endpoint(route.handler, route.status),
            methods=[route.method],
            status_code=route.status,
            summary=route.summary or None,
            name=f"{route.method} {route.path}",
            # FastAPI's default derives the model from the return annotation; None skips it.
            response_model=Default(None) if documented else None,
        )


def install_dispatcher(app: FastAPI) -> Dispatcher:
    """The table's routes are entered through `Dispatcher` (api/dispatch.py): parameters
    resolved from a plan made once, not FastAPI's dependency solving per request. Accord's
    middleware enters it directly; it also sits where the router's app sat, for anything that
    reaches the router. Install the error handlers first: it answers with them."""
    names = {f"{r.method} {r.path}": r for r in ROUTES}
    plans = plan_routes(
        app.router.routes,
        {name: r.handler for name, r in names.items()},
        {name: responder(r.status) for name, r in names.items()},
    )
    dispatcher = Dispatcher(app.router.middleware_stack, app.router, plans, app.exception_handlers)
    app.router.middleware_stack = dispatcher
    return dispatcher


def documented_routes() -> list[BaseRoute]:
    router = APIRouter()
    add_routes(router, documented=True)
    return router.routes


def placement_pass(db: Database, settings: Settings) -> Callable[[], object]:
    """One mirror sync per reconcile tick; its report is logged when something changed."""
    from accord.placement.client import PlacementClient
    from accord.placement.mirror import PlacementMirror

    mirror = PlacementMirror(PlacementClient(settings.placement_url, settings.placement_token))

    def placement_mirror() -> object:
        with db.read() as session:
            report = mirror.sync(session)
        if report.changed or report.errors:
            log.info("placement mirror: %s", report)
        return report

    return placement_mirror


def blob_sweep_pass(db: Database, settings: Settings) -> Callable[[], object]:
    """Crash leftovers in the blob store go on the reconcile tick (at most once a minute)."""
    from sqlalchemy import select

    from accord.images.blobstore import BlobStore
    from accord.images.sweep import sweep_blobs
    from accord.store.models import Image

    last = [0.0]

    def blob_sweep() -> object:
        if time.monotonic() - last[0] < 60:
            return None
        last[0] = time.monotonic()
        if not settings.blob_dir.is_dir():
            return None

        def known() -> set[str]:
            with db.read() as session:
                return set(session.scalars(select(Image.uuid)))

        return sweep_blobs(BlobStore(settings.blob_dir), known)

    return blob_sweep


def rollout_pass(services: Services) -> Callable[[], object]:
    """Firmware campaigns advance on the reconcile tick (services/rollouts.py)."""
    from accord.services.rollouts import advance_all

    def firmware_rollouts() -> object:
        return advance_all(services)

    return firmware_rollouts


def keep_pydantic_v1_out() -> None:
    """FastAPI asks of every parameter and body type it plans whether it is a pydantic.v1
    model, by importing `pydantic.v1`: 1.5 MiB and 0.15 s of start-up in a server that has no
    such model. An absent `pydantic.v1` is an answer FastAPI takes ("no", on ImportError), so
    the import is made to fail in this process unless something already loaded it."""
    sys.modules.setdefault("pydantic.v1", None)  # type: ignore[arg-type]


def create_app(settings: Settings, db: Database | None = None) -> FastAPI:
    """Build the ASGI app. The caller owns migrations (`accord serve` runs them first)."""
    keep_pydantic_v1_out()
    scheduler = SchedulerCache(settings.scheduler_index_max_age_s, settings.scheduler_index_rebuild_s)
    state = AppState(
        settings=settings,
        db=db
        or Database(
            settings.effective_database_url,
            connect_timeout_s=settings.database_connect_timeout_s,
            statement_timeout_s=settings.database_statement_timeout_s,
        ),
        authenticator=make_authenticator(settings),
        nova=(
            NovaNotifier(settings.nova_url, settings.nova_token, settings.nova_event_retries)
            if settings.nova_url
            else None
        ),
        chooser=functools.partial(choose_deployables, cache=scheduler),
        scheduler=scheduler,
    )
    if scheduler.enabled:
        state.db.on_commit(scheduler.committed)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        reconciler = None
        passes = [blob_sweep_pass(state.db, settings), rollout_pass(state)]
        if settings.placement_url:
            passes.append(placement_pass(state.db, settings))
        if settings.reconcile_interval_s > 0:
            reconciler = Reconciler(
                state.db,
                settings.reconcile_interval_s,
                timedelta(seconds=settings.host_lost_after_s),
                timedelta(seconds=settings.bind_timeout_s),
                state.notify_resolved,
                state.completions,
                passes,
                lease_s=settings.effective_task_lease_s,
            )
            reconciler.start()
        yield
        if reconciler is not None:
            reconciler.stop()
        if state.nova is not None:
            state.nova.stop(timeout=5)

    app = FastAPI(
        lifespan=lifespan,
        title="Accord",
        version=__version__,
        description="Accelerator management with a Cyborg v2-compatible API.",
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
    )
    app.state.accord = state
    add_routes(app.router, documented=False)
    metrics = Metrics(state.db)

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    install_console(app)
    install_error_handlers(app)
    dispatcher = install_dispatcher(app)
    install_openapi(
        app, {(r.method, r.path): r.body for r in ROUTES if r.body is not None}, documented_routes
    )
    app.add_middleware(
        AccordMiddleware, max_body_bytes=settings.max_body_bytes, metrics=metrics, entry=dispatcher
    )
    return app


def app_from_environment() -> FastAPI:
    """Factory for `uvicorn --factory` worker processes: settings come from ACCORD_* (and
    ACCORD_CONFIG_FILE when `accord serve --config` was given)."""
    import os
    from pathlib import Path

    from accord.api.malloc import limit_malloc_arenas
    from accord.config import load_settings

    limit_malloc_arenas()  # each worker process, before its threads: see api/malloc.py

    config = os.environ.get("ACCORD_CONFIG_FILE")
    return create_app(load_settings(config_file=Path(config) if config else None))
