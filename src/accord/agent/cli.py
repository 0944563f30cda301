"""`accord agent`: the host agent's command line, on argparse.

The agent runs on every compute host, so it loads no CLI framework: `accord agent …` is routed
here before Typer is imported (`accord.cli.entry`). httpx's own command-line module would import
click, rich and pygments (~12 MiB) when they are installed; the agent never uses it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="accord agent",
        description="The host agent: discover devices, report them, carry out queued operations.",
    )
    p.add_argument("--server", required=True, help="Accord API URL")
    p.add_argument("--host", required=True, help="This host's name, as Nova/Placement know it")
    p.add_argument(
        "--sysfs-root", type=Path, default=Path("/"), help="Where sysfs is (fixtures in tests, / on hosts)"
    )
    p.add_argument("--token", help="Agent token bound to this host (ACCORD_TOKEN)")
    p.add_argument("--once", action="store_true", help="Discover, report and exit (bare-metal ramdisk)")
    p.add_argument("--simulate", action="store_true", help="Perform operations inside the sysfs root")
    p.add_argument("--interval", type=float, default=60.0, help="Seconds between full reports")
    p.add_argument("--retries", type=int, default=5, help="Attempts before giving up on the server")
    p.add_argument(
        "--allow",
        action="append",
        default=[],
        help="Report this PCI device through the generic family: vendor:product, vendor:* or class:HEX",
    )
    p.add_argument(
        "--physnet",
        action="append",
        default=[],
        help="Physical network of an SR-IOV NIC: PF_ADDRESS_OR_IFNAME=PHYSNET",
    )
    p.add_argument(
        "--vgpu-type",
        action="append",
        default=[],
        help="vGPU type to mirror for a GPU: ADDRESS_PRODUCT_OR_MODEL=TYPE (e.g. 1eb8=nvidia-222)",
    )
    p.add_argument(
        "--state-dir",
        type=Path,
        help="Where the agent journals the operations it started (default: <data dir>/agent)",
    )
    p.add_argument("--ca-file", type=Path, help="Verify an https server against this CA bundle (PEM) only")
    p.add_argument("--json", action="store_true", help="--once: print the outcome as JSON")
    return p


def _pairs(items: list[str], flag: str, shape: str) -> list[tuple[str, str]] | None:
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            _error(f"error: {flag} {item!r} is not {shape}")
            return None
        pairs.append((key, value))
    return pairs


def _error(message: str) -> None:
    red = sys.stderr.isatty()
    print(f"\x1b[31m{message}\x1b[0m" if red else message, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from accord.agent.reporter import ServerRefused, ServerUnreachable
    from accord.agent.runner import AgentOptions, build_agent
    from accord.cli.logs import setup_logging
    from accord.config import default_data_dir

    setup_logging()
    physnets = _pairs(args.physnet, "--physnet", "NIC=PHYSNET")
    vgpu_types = _pairs(args.vgpu_type, "--vgpu-type", "GPU=TYPE")
    if physnets is None or vgpu_types is None:
        return 2
    data_dir = Path(os.environ.get("ACCORD_DATA_DIR") or default_data_dir())
    options = AgentOptions(
        server=args.server,
        hostname=args.host,
        sysfs_root=args.sysfs_root,
        token=args.token or os.environ.get("ACCORD_TOKEN") or None,
        simulate=args.simulate,
        interval_s=args.interval,
        retries=args.retries,
        passthrough=tuple(args.allow),
        physnets=tuple(physnets),
        vgpu_types=tuple(vgpu_types),
        state_dir=args.state_dir or data_dir / "agent",
        ca_file=str(args.ca_file) if args.ca_file else None,
    )
    try:
        runner = build_agent(options)
    except ValueError as exc:  # a bad allow-list entry
        _error(f"error: {exc}")
        return 2
    with runner:
        if args.once:
            try:
                result = runner.run_once()
            except (ServerUnreachable, ServerRefused) as exc:
                _error(f"error: {exc}")
                return 7 if isinstance(exc, ServerUnreachable) else 4
            outcome = {"hostname": args.host, "devices": result.devices, "skipped": len(result.skipped)}
            if args.json:
                print(json.dumps(outcome, indent=2))
            else:
                print(f"reported {result.devices} devices for {args.host}; {len(result.skipped)} skipped")
            return 0
        try:
            runner.run_forever()
        except KeyboardInterrupt:  # Ctrl-C: stop quietly, the journal keeps what was started
            return 130
    return 0
