"""`accord image sample gbs|xclbin|firmware --for DEVICE`: a valid demo image for one device, so
programming and flashing can be tried without a vendor toolchain.

The headers are real (the catalog parses and accepts them, the simulated tools load them); the
payload is a marker saying it is a demo, never configuration data for a real card.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from accord.cli.client import EXIT_INVALID, Client, err_console
from accord.cli.resources import client

DEMO_PAYLOAD = b"ACCORD DEMO IMAGE: a placeholder payload, not configuration data for any real device.\n"
REGION_TRAIT = re.compile(r"^CUSTOM_FPGA_REGION_[A-Z0-9_]+_([0-9A-F]{32})$")
EXTENSIONS = {"gbs": "gbs", "xclbin": "xclbin", "firmware": "bin"}


def _refuse(message: str) -> typer.Exit:
    err_console().print(f"[red]{message}[/red]")
    return typer.Exit(EXIT_INVALID)


def _region_interface(c: Client, device_uuid: str) -> str | None:
    """The PR interface id of the device's region, from its `CUSTOM_FPGA_REGION_…` trait."""
    for deployable in c.call("GET", "/v2/deployables")["deployables"]:
        if deployable["device_id"] != device_uuid:
            continue
        for attribute in json.loads(deployable.get("attributes_list") or "[]"):
            for value in attribute.values():
                found = REGION_TRAIT.match(str(value))
                if found:
                    return str(uuid.UUID(found.group(1)))
    return None


def _next_version(current: str | None) -> str:
    """The current version with its last number one higher (`1.2.3` → `1.2.4`), or `1.0.1`."""
    if current:
        parts = re.split(r"(\d+)(?!.*\d)", current, maxsplit=1)
        if len(parts) == 3:
            return f"{parts[0]}{int(parts[1]) + 1}{parts[2]}"
    return "1.0.1"


def build_sample(
    c: Client, kind: str, device: dict[str, Any], **options: Any
) -> tuple[bytes, dict[str, Any]]:
    """The image's bytes and what it carries (what `image create` should declare)."""
    from accord.images.formats.build import build_gbs, build_xclbin

    health = c.call("GET", f"/v2/devices/{device['uuid']}/health")
    function_id = options.get("function_id") or str(uuid.uuid4())
    if kind == "gbs":
        interface = _region_interface(c, device["uuid"])
        if interface is None:
            raise _refuse(f"device {device['uuid']} has no Intel PR region to build a .gbs for")
        data = build_gbs(function_id, interface, payload=DEMO_PAYLOAD, name="accord_demo_afu")
        return data, {"function_id": function_id, "interface_id": interface}
    if kind == "xclbin":
        if "xilinx" not in str(device.get("vendor_board_info") or "") and device.get("vendor") != "10ee":
            raise _refuse(f"device {device['uuid']} is not a Xilinx Alveo card")
        platform = health.get("firmware_version") or "xilinx_demo_platform"
        data = build_xclbin(function_id, None, platform, payload=DEMO_PAYLOAD)
        return data, {"function_id": function_id, "target": platform}
    from accord.images.formats.build_firmware import build_sim_firmware_for

    # The simulated flash tools' container, built for this device's model (its target check).
    version = options.get("version") or _next_version(health.get("firmware_version"))
    target = device.get("model") or ""
    return build_sim_firmware_for(target, version), {"version": version, "target": target}


def image_sample(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="gbs (Intel FPGA), xclbin (Xilinx Alveo) or firmware")],
    device: Annotated[str, typer.Option("--for", help="Device uuid the image is built for")],
    out: Annotated[Path | None, typer.Option(help="Where to write it (default: ./demo-<kind>.<ext>)")] = None,
    function_id: Annotated[str | None, typer.Option(help="AFU / xclbin uuid (default: random)")] = None,
    version: Annotated[str | None, typer.Option(help="Firmware version (default: the device's + 1)")] = None,
) -> None:
    """Write a valid demo image for DEVICE and print the commands that add it to the catalog."""
    if kind not in EXTENSIONS:
        raise _refuse(f"unknown sample {kind!r}: choose one of {', '.join(EXTENSIONS)}")
    c = client(ctx)
    found = c.call("GET", f"/v2/devices/{device}")
    data, carries = build_sample(c, kind, found, function_id=function_id, version=version)
    path = out or Path(f"demo-{kind}.{EXTENSIONS[kind]}")
    path.write_bytes(data)
    declared = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in carries.items() if k != "interface_id")
    image_kind = "firmware" if kind == "firmware" else "bitstream"
    c.report(
        {"path": str(path), "format": kind, "size": len(data), "device_uuid": found["uuid"], **carries},
        f"wrote {path} ({len(data)} bytes, a demo {kind} for device {found['uuid']})\n"
        f"next: accord image create demo-{kind} --kind {image_kind} {declared}\n"
        f"      accord image upload IMAGE_UUID {path} && accord image approve IMAGE_UUID",
    )
