"""`accord up`: the embedded all-in-one — server plus a local agent in one process; with
`--demo`, also one agent per simulated host (see accord.agent.sim.demo).

The server runs under uvicorn in the main thread; the agent runs in a daemon thread and talks
to it over loopback HTTP exactly as a remote agent would.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

import typer
import uvicorn

from accord.api.app import create_app
from accord.cli.exposure import describe
from accord.cli.logs import setup_logging
from accord.config import Settings

log = logging.getLogger(__name__)


def _wait_for_port(address: str, port: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((address, port)) == 0:
                return True
        time.sleep(0.1)
    return False


def _start_agents(settings: Settings, demo: bool) -> list[str]:
    from accord.agent.runner import AgentOptions, start_agent_thread

    url = f"http://{settings.address}:{settings.port}"
    hostname = socket.gethostname()
    state_dir = settings.data_dir / "agent"  # the agents' operation journals
    start_agent_thread(AgentOptions(server=url, hostname=hostname, state_dir=state_dir))
    hosts = [hostname]
    if demo:
        from accord.agent.sim.demo import DEMO_PHYSNETS, demo_roots

        for name, root in demo_roots(settings.data_dir / "demo").items():
            options = AgentOptions(
                server=url,
                hostname=name,
                sysfs_root=root,
                simulate=True,
                physnets=DEMO_PHYSNETS,
                state_dir=state_dir,
            )
            start_agent_thread(options)
            hosts.append(name)
    return hosts


def run_up(settings: Settings, demo: bool = False) -> None:
    setup_logging()
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.address,
            port=settings.port,
            log_level="warning",
            timeout_graceful_shutdown=max(1, round(settings.shutdown_timeout_s)),
        )
    )

    def agents_when_ready() -> None:
        if not _wait_for_port(settings.address, settings.port):
            log.error("server did not start listening; no local agent started")
            return
        hosts = _start_agents(settings, demo)
        typer.echo(f"local agents reporting: {', '.join(hosts)}")

    threading.Thread(target=agents_when_ready, name="accord-agents", daemon=True).start()
    typer.echo(describe(settings))
    typer.echo(f"data directory: {settings.data_dir} (database {settings.effective_database_url})")
    server.run()
