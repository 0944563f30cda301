"""The console's pages: authorize with the API's own rules, one read from services.console, render."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from accord.api.console.session import console_context
from accord.api.console.views import html_errors, page
from accord.api.policy import authorize
from accord.api.state import app_state
from accord.services import console

AUDIT_FILTERS = ("action", "outcome", "device_uuid", "target_uuid", "user_id")


@html_errors
def fleet(request: Request) -> Response:
    ctx = console_context(request)
    authorize(ctx, "host:get")
    authorize(ctx, "device:get_all")
    return page(request, "fleet.html", title="Fleet", **console.fleet_overview(app_state(request)))


@html_errors
def device(request: Request, device_uuid: str) -> Response:
    ctx = console_context(request)
    authorize(ctx, "device:get_one")
    data = console.device_page(app_state(request), device_uuid)
    return page(request, "device.html", title=f"Device {data['device']['pci_address']}", **data)


@html_errors
def arqs(request: Request) -> Response:
    ctx = console_context(request)
    authorize(ctx, "accelerator_request:get_all")
    grouped = console.arqs_by_state(app_state(request), ctx)
    return page(request, "arqs.html", title="Accelerator requests", groups=grouped)


@html_errors
def operations(request: Request) -> Response:
    ctx = console_context(request)
    authorize(ctx, "operation:get")
    data = console.operations_page(app_state(request))
    return page(request, "operations.html", title="Operations", refresh=3 if data["in_flight"] else 0, **data)


@html_errors
def rollouts(request: Request) -> Response:
    ctx = console_context(request)
    authorize(ctx, "firmware_rollout:get")
    data = console.rollouts_page(app_state(request))
    watching = any(not r["finished"] for r in data["rollouts"])
    return page(request, "rollouts.html", title="Firmware rollouts", refresh=5 if watching else 0, **data)


@html_errors
def rollout(request: Request, rollout_uuid: str) -> Response:
    ctx = console_context(request)
    authorize(ctx, "firmware_rollout:get")
    data = console.rollout_page(app_state(request), rollout_uuid)
    refresh = 0 if data["finished"] else 2
    return page(request, "rollout.html", title=f"Rollout {data['uuid'][:8]}", rollout=data, refresh=refresh)


@html_errors
def images(request: Request) -> Response:
    ctx = console_context(request)
    authorize(ctx, "image:get")
    return page(request, "images.html", title="Catalog", images=console.catalog_page(app_state(request)))


@html_errors
def audit(request: Request) -> Response:
    ctx = console_context(request)
    authorize(ctx, "audit_event:get")
    filters = {k: request.query_params.get(k, "").strip() for k in AUDIT_FILTERS}
    events = console.audit_search(app_state(request), filters)
    return page(request, "audit.html", title="Audit trail", filters=filters, events=events)
