"""CLI for the vetted catalog and the operator actions around it: images, trusted keys, the
audit trail, admin programming and firmware flashing."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from accord.cli.client import EXIT_INVALID, err_console
from accord.cli.resources import client, deployable_app, device_app

image_app = typer.Typer(help="The vetted image catalog (bitstreams and firmware).", no_args_is_help=True)
key_app = typer.Typer(help="Trusted ed25519 keys for image signatures.", no_args_is_help=True)
audit_app = typer.Typer(help="The append-only audit trail.", no_args_is_help=True)

IMAGE_COLUMNS = ("uuid", "name", "kind", "state", "function_id", "version", "size", "sha256")
KEY_COLUMNS = ("uuid", "name", "fingerprint", "created_at")
AUDIT_COLUMNS = ("at", "user_id", "action", "target_uuid", "device_uuid", "outcome")
CHUNK = 1 << 20


@image_app.command("create")
def image_create(
    ctx: typer.Context,
    name: str,
    kind: Annotated[str, typer.Option(help="bitstream or firmware")] = "bitstream",
    vendor: Annotated[str | None, typer.Option()] = None,
    version: Annotated[str | None, typer.Option(help="Firmware version (required for firmware)")] = None,
    function_id: Annotated[str | None, typer.Option(help="AFU / xclbin uuid the image provides")] = None,
    interface_id: Annotated[str | None, typer.Option(help="PR interface uuid it is built for")] = None,
    target: Annotated[str | None, typer.Option(help="Interface uuid, platform VBNV or part")] = None,
    sha256: Annotated[str | None, typer.Option(help="Digest the upload must have")] = None,
    signature: Annotated[str | None, typer.Option(help="base64 ed25519 signature over the sha256")] = None,
) -> None:
    body: dict[str, Any] = {"name": name, "kind": kind}
    for key, value in (
        ("vendor", vendor),
        ("version", version),
        ("function_id", function_id),
        ("interface_id", interface_id),
        ("target", target),
        ("sha256", sha256),
        ("signature", signature),
    ):
        if value is not None:
            body[key] = value
    c = client(ctx)
    c.show_record(c.call("POST", "/v2/images", json=body))


def _chunks(path: Path, progress: Any, task: Any, digest: Any) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            progress.update(task, advance=len(chunk))
            yield chunk


@image_app.command("upload")
def image_upload(ctx: typer.Context, image_uuid: str, path: Path) -> None:
    """Stream a file to the catalog, with a progress bar; the server's sha256 must match ours."""
    if not path.is_file():
        err_console().print(f"[red]{path} is not a file[/red]")
        raise typer.Exit(EXIT_INVALID)
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    c = client(ctx)
    digest = hashlib.sha256()
    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=err_console(), transient=True) as progress:
        task = progress.add_task("upload", total=path.stat().st_size)
        image = c.call(
            "PUT",
            f"/v2/images/{image_uuid}/file",
            content=_chunks(path, progress, task, digest),
            extra_headers={"Content-Type": "application/octet-stream"},
            timeout=None,
        )
    local = digest.hexdigest()
    if image.get("sha256") != local:
        err_console().print(
            f"[red]the server stored sha256 {image.get('sha256')}, the file has {local}[/red]"
        )
        raise typer.Exit(1)
    err_console().print(f"sha256 {local}")
    c.show_record(image)


@image_app.command("approve")
def image_approve(ctx: typer.Context, image_uuid: str) -> None:
    c = client(ctx)
    c.show_record(c.call("POST", f"/v2/images/{image_uuid}/approve"))


@image_app.command("reject")
def image_reject(ctx: typer.Context, image_uuid: str, reason: str) -> None:
    c = client(ctx)
    c.show_record(c.call("POST", f"/v2/images/{image_uuid}/reject", json={"reason": reason}))


@image_app.command("list")
def image_list(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option()] = None,
    state: Annotated[str | None, typer.Option()] = None,
    function_id: Annotated[str | None, typer.Option()] = None,
) -> None:
    params = {k: v for k, v in {"kind": kind, "state": state, "function_id": function_id}.items() if v}
    c = client(ctx)
    c.show(c.call("GET", "/v2/images", params=params)["images"], IMAGE_COLUMNS)


@image_app.command("show")
def image_show(ctx: typer.Context, image_uuid: str) -> None:
    c = client(ctx)
    c.show_record(c.call("GET", f"/v2/images/{image_uuid}"))


@image_app.command("delete")
def image_delete(ctx: typer.Context, image_uuid: str) -> None:
    c = client(ctx)
    c.call("DELETE", f"/v2/images/{image_uuid}")
    c.report({"deleted": [image_uuid]}, f"deleted image {image_uuid}")


@key_app.command("add")
def key_add(ctx: typer.Context, name: str, public_key_file: Path) -> None:
    """Trust the ed25519 public key in a file (PEM, OpenSSH or base64 of the raw key)."""
    c = client(ctx)
    body = {"name": name, "public_key": public_key_file.read_text()}
    c.show_record(c.call("POST", "/v2/trusted_keys", json=body))


@key_app.command("list")
def key_list(ctx: typer.Context) -> None:
    c = client(ctx)
    c.show(c.call("GET", "/v2/trusted_keys")["trusted_keys"], KEY_COLUMNS)


@key_app.command("delete")
def key_delete(ctx: typer.Context, ident: str) -> None:
    c = client(ctx)
    c.call("DELETE", f"/v2/trusted_keys/{ident}")
    c.report({"deleted": [ident]}, f"deleted trusted key {ident}")


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    action: Annotated[str | None, typer.Option(help="e.g. image, image.upload, operation.program")] = None,
    outcome: Annotated[str | None, typer.Option(help="success, failure, refused or started")] = None,
    device: Annotated[str | None, typer.Option(help="Device uuid")] = None,
    target: Annotated[str | None, typer.Option(help="Target uuid (image, ARQ, operation …)")] = None,
    limit: Annotated[int, typer.Option()] = 100,
) -> None:
    filters = {"action": action, "outcome": outcome, "device_uuid": device, "target_uuid": target}
    params: dict[str, Any] = {k: v for k, v in filters.items() if v}
    params["limit"] = limit
    c = client(ctx)
    c.show(c.call("GET", "/v2/audit_events", params=params)["audit_events"], AUDIT_COLUMNS)


@deployable_app.command("program")
def deployable_program(ctx: typer.Context, deployable_uuid: str, image_uuid: str) -> None:
    """Program an approved image onto a region nobody uses (Cyborg's PATCH …/program)."""
    body = [{"op": "replace", "path": "/program", "value": [{"image_uuid": image_uuid}]}]
    c = client(ctx)
    c.show_record(c.call("PATCH", f"/v2/deployables/{deployable_uuid}/program", json=body, timeout=None))


@device_app.command("firmware")
def device_firmware(
    ctx: typer.Context,
    device_uuid: str,
    image_uuid: str,
    force: Annotated[bool, typer.Option(help="Allow a downgrade or a re-flash of the same version")] = False,
) -> None:
    """Flash approved firmware onto a drained (disabled) device; prints the operation to watch."""
    body: dict[str, Any] = {"image_uuid": image_uuid}
    if force:
        body["force"] = True
    c = client(ctx)
    c.show_record(c.call("POST", f"/v2/devices/{device_uuid}/firmware", json=body))
