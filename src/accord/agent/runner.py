"""Assemble an agent from options: drivers, executor, reporter, loop. Used by `accord agent`
and by `accord up` (which runs agents in threads)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from accord.agent.executor import Executor
from accord.agent.journal import OperationJournal
from accord.agent.loop import Agent
from accord.agent.reporter import Reporter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgentOptions:
    server: str
    hostname: str
    sysfs_root: Path = Path("/")
    token: str | None = None
    simulate: bool = False
    interval_s: float = 60.0
    heartbeat_s: float = 15.0
    poll_s: float = 2.0
    retries: int = 5
    passthrough: tuple[str, ...] = ()  # generic PCI allow-list: vendor:product, vendor:*, class:HEX
    physnets: tuple[tuple[str, str], ...] = ()  # (PF address or netdev name, physnet)
    # Where the agent keeps its operation journal (so a restart never reruns a started
    # operation); None keeps it in memory only.
    state_dir: Path | None = None
    ca_file: str | None = None  # verify an https server against this CA bundle only


def journal_path(state_dir: Path, hostname: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in hostname)
    return state_dir / f"operations-{safe}.json"


def build_agent(options: AgentOptions) -> Agent:
    from accord.agent.drivers import DriverConfig, all_drivers, discover_host

    config = DriverConfig(passthrough=options.passthrough, physnets=dict(options.physnets))
    drivers = all_drivers(options.sysfs_root, options.simulate, config)
    reporter = Reporter(
        options.server, options.hostname, options.token, retries=options.retries, ca_file=options.ca_file
    )
    executor = Executor(drivers, options.hostname, reporter.download_image)
    return Agent(
        options.hostname,
        lambda: discover_host(drivers),
        reporter,
        interval_s=options.interval_s,
        heartbeat_s=options.heartbeat_s,
        execute=executor.execute,
        poll_s=options.poll_s,
        journal=OperationJournal(
            journal_path(options.state_dir, options.hostname) if options.state_dir is not None else None
        ),
    )


def start_agent_thread(options: AgentOptions) -> Agent:
    agent = build_agent(options)
    threading.Thread(target=agent.run_forever, name=f"agent-{options.hostname}", daemon=True).start()
    return agent
