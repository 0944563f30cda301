"""How drivers change a host: write a sysfs attribute, or run a vendor tool.

Drivers never open files for writing or spawn processes themselves; they go through a HostIO.
On a real host that is `KernelIO`; where the hardware is not here it is
`accord.agent.sim.kernel.SimulatedKernel`, which applies the same writes to a fixture tree and
reacts the way the kernel (or the vendor tool) would. The driver code is the same in both.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Protocol


class ToolFailed(Exception):
    """A vendor tool exited non-zero; the message carries its output."""


class HostIO(Protocol):
    def write(self, path: Path, value: str) -> None: ...

    def run(self, argv: list[str], timeout_s: float = 600.0) -> str: ...


class KernelIO:
    """The real thing: sysfs writes go to the kernel, tools run as processes."""

    def write(self, path: Path, value: str) -> None:
        with open(path, "w") as handle:  # sysfs attributes take one write each
            handle.write(value)

    def run(self, argv: list[str], timeout_s: float = 600.0) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
        except FileNotFoundError as exc:
            raise ToolFailed(f"{argv[0]} is not installed on this host") from exc
        except subprocess.TimeoutExpired as exc:
            raise ToolFailed(f"{argv[0]} did not finish within {timeout_s:.0f} s") from exc
        if done.returncode != 0:
            output = (done.stderr or done.stdout).strip()[-2000:]
            raise ToolFailed(f"{argv[0]} exited {done.returncode}: {output}")
        return done.stdout
