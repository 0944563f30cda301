"""CLI for firmware rollouts: start a campaign, list them, watch one's progress, pause, resume, abort."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from accord.cli.client import EXIT_CONFLICT, Client, console, err_console
from accord.cli.resources import client

firmware_app = typer.Typer(help="Firmware campaigns over many devices, in waves.", no_args_is_help=True)

ROLLOUT_COLUMNS = ("uuid", "image_uuid", "state", "current_wave", "waves", "progress", "created_at")
DEVICE_COLUMNS = ("device_uuid", "host", "wave", "state", "reason", "operation_uuid")
FINAL = {"completed", "failed", "aborted"}
WATCH_INTERVAL_S = 1.0


def parse_selector(text: str) -> dict[str, str]:
    """`host=fpga-1,type=FPGA` → the API's selector (keys: host, vendor, model, type)."""
    pairs = [p.split("=", 1) for p in text.split(",") if p.strip()]
    if not pairs or any(len(p) != 2 or not p[1] for p in pairs):
        raise typer.BadParameter(f"--select {text!r} must be key=value pairs separated by commas")
    return {k.strip(): v.strip() for k, v in pairs}


def progress_text(rollout: dict[str, Any]) -> str:
    counts = rollout["counts"]
    done = counts["succeeded"] + counts["failed"] + counts["skipped"]
    return f"{done}/{len(rollout['devices'])} done, {counts['failed']} failed, {counts['skipped']} skipped"


def show_rollout(c: Client, rollout: dict[str, Any]) -> None:
    if c.as_json:
        c.show_record(rollout)
        return
    wave = rollout["current_wave"]
    reason = f" ({rollout['reason']})" if rollout.get("reason") else ""
    console().print(
        f"rollout {rollout['uuid']}: {rollout['state']}{reason} · wave {wave} of 0..{rollout['waves'] - 1}"
        f" · {progress_text(rollout)}"
    )
    c.show(rollout["devices"], DEVICE_COLUMNS)


def watch(c: Client, rollout_uuid: str) -> dict[str, Any]:
    """Follow a campaign to its end with a progress bar per state, then return it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    rollout: dict[str, Any] = c.call("GET", f"/v2/firmware_rollouts/{rollout_uuid}")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err_console(), transient=True) as progress:
        task = progress.add_task("starting", total=len(rollout["devices"]))
        while True:
            counts = rollout["counts"]
            done = counts["succeeded"] + counts["failed"] + counts["skipped"]
            description = (
                f"{rollout['state']} · wave {rollout['current_wave']} · "
                f"{counts['draining']} draining, {counts['flashing']} flashing, {counts['failed']} failed"
            )
            progress.update(task, completed=done, description=description)
            if rollout["state"] in FINAL and counts["draining"] + counts["flashing"] == 0:
                return rollout
            time.sleep(WATCH_INTERVAL_S)
            rollout = c.call("GET", f"/v2/firmware_rollouts/{rollout_uuid}")


def _finish(c: Client, rollout: dict[str, Any], follow: bool) -> None:
    if follow:
        rollout = watch(c, rollout["uuid"])
    show_rollout(c, rollout)
    if follow and rollout["state"] != "completed":
        raise typer.Exit(EXIT_CONFLICT)


@firmware_app.command("rollout")
def rollout_start(
    ctx: typer.Context,
    image_uuid: str,
    select: Annotated[
        str | None, typer.Option("--select", help="Devices by key=value: host, vendor, model, type")
    ] = None,
    device: Annotated[
        list[str] | None, typer.Option("--device", help="A device uuid; repeat for more")
    ] = None,
    canary: Annotated[int, typer.Option(min=0, help="Devices flashed first, alone (wave 0)")] = 1,
    wave: Annotated[str, typer.Option(help="Devices per later wave: N or N%")] = "25%",
    max_failures: Annotated[int, typer.Option(min=0, help="Failures tolerated before it stops")] = 0,
    in_use: Annotated[str, typer.Option(help="A device in use: wait or skip")] = "skip",
    watch_it: Annotated[
        bool, typer.Option("--watch", help="Follow it to its end (exit 5 unless completed)")
    ] = False,
) -> None:
    """Roll an approved firmware image out: drain, flash, verify and re-enable, wave by wave."""
    body: dict[str, Any] = {
        "image_uuid": image_uuid,
        "canary": canary,
        "wave": int(wave) if wave.isdigit() else wave,
        "max_failures": max_failures,
        "in_use": in_use,
    }
    if select is not None:
        body["selector"] = parse_selector(select)
    if device:
        body["device_uuids"] = device
    c = client(ctx)
    _finish(c, c.call("POST", "/v2/firmware_rollouts", json=body), watch_it)


@firmware_app.command("rollouts")
def rollout_list(
    ctx: typer.Context, state: Annotated[str | None, typer.Option(help="running, paused, …")] = None
) -> None:
    c = client(ctx)
    rows = c.call("GET", "/v2/firmware_rollouts", params={"state": state} if state else None)
    found = rows["firmware_rollouts"]
    if not c.as_json:
        found = [{**r, "progress": progress_text(r)} for r in found]
    c.show(found, ROLLOUT_COLUMNS)


@firmware_app.command("rollout-show")
def rollout_show(
    ctx: typer.Context,
    rollout_uuid: str,
    watch_it: Annotated[
        bool, typer.Option("--watch", help="Follow it to its end (exit 5 unless completed)")
    ] = False,
) -> None:
    c = client(ctx)
    _finish(c, c.call("GET", f"/v2/firmware_rollouts/{rollout_uuid}"), watch_it)


def _act(ctx: typer.Context, rollout_uuid: str, action: str) -> None:
    c = client(ctx)
    show_rollout(c, c.call("POST", f"/v2/firmware_rollouts/{rollout_uuid}/{action}"))


@firmware_app.command("rollout-pause")
def rollout_pause(ctx: typer.Context, rollout_uuid: str) -> None:
    """Start no new flash; flashes already running finish."""
    _act(ctx, rollout_uuid, "pause")


@firmware_app.command("rollout-resume")
def rollout_resume(ctx: typer.Context, rollout_uuid: str) -> None:
    _act(ctx, rollout_uuid, "resume")


@firmware_app.command("rollout-abort")
def rollout_abort(ctx: typer.Context, rollout_uuid: str) -> None:
    """Give untouched devices back; flashes already running finish (a flash is never cut off)."""
    _act(ctx, rollout_uuid, "abort")
