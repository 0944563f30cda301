"""Where the manager finds Accord and the host it acts on.

Ironic masks every `driver_info` value whose key holds "token" or "password" before the ramdisk
sees the node, so the URL and the node's agent token come on the kernel command line
(`accord_url=… accord_token=…`, set through the node's `kernel_append_params`), read afresh for
every step; `driver_info` keys `accord_url`/`accord_token` are used only where they arrive unmasked.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MASKED = "******"


class NotConfigured(Exception):
    """No Accord URL for this node: the step cannot run."""


@dataclass(frozen=True)
class RamdiskSettings:
    url: str
    token: str | None
    sysfs_root: Path
    simulate: bool


def kernel_parameters(path: Path | None = None) -> dict[str, str]:
    """`key=value` words of the kernel command line (`ACCORD_CMDLINE_FILE`, else /proc/cmdline)."""
    path = path or Path(os.environ.get("ACCORD_CMDLINE_FILE") or "/proc/cmdline")
    try:
        words = shlex.split(path.read_text())
    except (OSError, ValueError):
        return {}
    return dict(word.split("=", 1) for word in words if "=" in word)


def _unmasked(value: object) -> str | None:
    return value if isinstance(value, str) and value and value != MASKED else None


def sysfs_root() -> Path:
    return Path(os.environ.get("ACCORD_SYSFS_ROOT") or "/")


def simulated() -> bool:
    return os.environ.get("ACCORD_SIMULATE", "") in ("1", "true", "yes")


def read_settings(node: dict[str, Any] | None) -> RamdiskSettings:
    params = kernel_parameters()
    info = (node or {}).get("driver_info") or {}
    url = params.get("accord_url") or _unmasked(info.get("accord_url"))
    token = params.get("accord_token") or _unmasked(info.get("accord_token"))
    if not url:
        raise NotConfigured(
            "no Accord URL: set accord_url=… (and accord_token=…) in the node's kernel_append_params"
        )
    return RamdiskSettings(url, token, sysfs_root(), simulated())
