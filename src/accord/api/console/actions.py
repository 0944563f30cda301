"""The console's actions: POST forms (CSRF-checked) that call the same use cases as the API and
send the browser back to the page it came from with a notice or the refusal's reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from accord.api.console.session import (
    LoginRequired,
    check_csrf,
    check_token,
    clear_token_cookie,
    console_context,
    set_token_cookie,
)
from accord.api.console.views import page, redirect, to_login
from accord.api.policy import authorize
from accord.api.schemas import FirmwareRolloutCreate, ImageReject, parse
from accord.api.state import app_state
from accord.domain.context import RequestContext
from accord.domain.errors import AccordError, Forbidden
from accord.services import catalog, rollouts
from accord.services import hardware as hardware_services

Form = dict[str, list[str]]
Act = Callable[[RequestContext, Form], tuple[str, str | None]]  # → (notice, where to go, if not back)


async def read_form(request: Request) -> Form:
    form: Form = {}
    for key, value in parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True):
        form.setdefault(key, []).append(value)
    return form


def one(form: Form, key: str) -> str:
    return (form.get(key) or [""])[0].strip()


def back_to(form: Form, default: str) -> str:
    wanted = one(form, "next")
    return wanted if wanted.startswith("/console") and "//" not in wanted and "\\" not in wanted else default


async def act(request: Request, default: str, action: Act) -> Response:
    form = await read_form(request)
    try:
        check_csrf(request, one(form, "csrf"))
    except Forbidden as exc:
        return page(request, "error.html", status=403, title="Refused", message=exc.message)
    back = back_to(form, default)
    try:
        ctx = console_context(request)
        notice, where = await run_in_threadpool(action, ctx, form)
    except LoginRequired:
        return to_login(request)
    except AccordError as exc:
        return redirect(back, error=exc.message)
    return redirect(where or back, notice=notice)


async def enable_device(request: Request, device_uuid: str) -> Response:
    return await _device_status(request, device_uuid, enabled=True)


async def disable_device(request: Request, device_uuid: str) -> Response:
    return await _device_status(request, device_uuid, enabled=False)


async def _device_status(request: Request, device_uuid: str, enabled: bool) -> Response:
    def change(ctx: RequestContext, _form: Form) -> tuple[str, str | None]:
        authorize(ctx, "device:enable" if enabled else "device:disable")
        hardware_services.set_device_status(app_state(request), ctx, device_uuid, enabled)
        return f"Device {device_uuid} {'enabled' if enabled else 'disabled'}.", None

    return await act(request, f"/console/devices/{device_uuid}", change)


async def approve_image(request: Request, image_uuid: str) -> Response:
    def approve(ctx: RequestContext, _form: Form) -> tuple[str, str | None]:
        authorize(ctx, "image:approve")
        row = catalog.approve(app_state(request), ctx, image_uuid)
        return f"Image {row.name} approved.", None

    return await act(request, "/console/images", approve)


async def reject_image(request: Request, image_uuid: str) -> Response:
    def reject(ctx: RequestContext, form: Form) -> tuple[str, str | None]:
        authorize(ctx, "image:approve")
        reason = parse(ImageReject, {"reason": one(form, "reason") or "rejected in the console"}).reason
        row = catalog.reject(app_state(request), ctx, image_uuid, reason)
        return f"Image {row.name} rejected.", None

    return await act(request, "/console/images", reject)


def rollout_body(form: Form) -> dict[str, Any]:
    """The start form as the API's body: checked devices, or a selector when none is checked."""
    body: dict[str, Any] = {"image_uuid": one(form, "image_uuid"), "in_use": one(form, "in_use") or "skip"}
    devices = [d for d in form.get("device_uuids", []) if d]
    if devices:
        body["device_uuids"] = devices
    picked = {k: one(form, f"select_{k}") for k in ("host", "type", "vendor", "model")}
    selector = {k: v for k, v in picked.items() if v}
    if selector:
        body["selector"] = selector
    for key in ("canary", "max_failures"):
        if one(form, key):
            body[key] = int(one(form, key)) if one(form, key).isdigit() else one(form, key)
    if one(form, "wave"):
        body["wave"] = int(one(form, "wave")) if one(form, "wave").isdigit() else one(form, "wave")
    return body


async def start_rollout(request: Request) -> Response:
    def start(ctx: RequestContext, form: Form) -> tuple[str, str | None]:
        authorize(ctx, "firmware_rollout:create")
        wanted = parse(FirmwareRolloutCreate, rollout_body(form))
        row = rollouts.start(app_state(request), ctx, wanted.model_dump(exclude_none=True))
        return f"Rollout {row.uuid} started.", f"/console/rollouts/{row.uuid}"

    return await act(request, "/console/rollouts", start)


async def pause_rollout(request: Request, rollout_uuid: str) -> Response:
    return await _rollout_action(request, rollout_uuid, "pause")


async def resume_rollout(request: Request, rollout_uuid: str) -> Response:
    return await _rollout_action(request, rollout_uuid, "resume")


async def abort_rollout(request: Request, rollout_uuid: str) -> Response:
    return await _rollout_action(request, rollout_uuid, "abort")


async def _rollout_action(request: Request, rollout_uuid: str, action: str) -> Response:
    def change(ctx: RequestContext, _form: Form) -> tuple[str, str | None]:
        authorize(ctx, "firmware_rollout:update")
        row = rollouts.act(app_state(request), ctx, rollout_uuid, action)
        return f"Rollout {row.uuid}: {row.state}.", None

    return await act(request, f"/console/rollouts/{rollout_uuid}", change)


def login_form(request: Request) -> Response:
    return page(request, "login.html", title="Log in", next=request.query_params.get("next", "/console"))


async def login(request: Request) -> Response:
    form = await read_form(request)
    try:
        check_csrf(request, one(form, "csrf"))
        ctx = await run_in_threadpool(check_token, request, one(form, "token"))
    except AccordError as exc:
        return page(
            request,
            "login.html",
            status=exc.status,
            title="Log in",
            next=back_to(form, "/console"),
            login_error=exc.message,
        )
    response = redirect(back_to(form, "/console"), notice=f"Logged in as {ctx.user_id or ctx.project_id}.")
    set_token_cookie(request, response, one(form, "token"))
    return response


async def logout(request: Request) -> Response:
    form = await read_form(request)
    try:
        check_csrf(request, one(form, "csrf"))
    except Forbidden as exc:
        return page(request, "error.html", status=403, title="Refused", message=exc.message)
    response = redirect("/console/login", notice="Logged out.")
    clear_token_cookie(response)
    return response
