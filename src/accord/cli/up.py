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
from types import FrameType
from typing import TYPE_CHECKING

import typer
import uvicorn

from accord.api.app import create_app
from accord.cli.exposure import describe
from accord.cli.listen import CannotListen, bind
from accord.cli.logs import setup_logging
from accord.config import Settings

if TYPE_CHECKING:
    from accord.agent.loop import Agent

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


def _start_agents(settings: Settings, demo: bool) -> list[tuple[Agent, threading.Thread]]:
    from accord.agent.runner import AgentOptions, build_agent

    url = f"http://{settings.address}:{settings.port}"
    state_dir = settings.data_dir / "agent"  # the agents' operation journals
    options = [AgentOptions(server=url, hostname=socket.gethostname(), state_dir=state_dir)]
    if demo:
        from accord.agent.sim.demo import DEMO_PHYSNETS, demo_roots

        for name, root in demo_roots(settings.data_dir / "demo").items():
            options.append(
                AgentOptions(
                    server=url,
                    hostname=name,
                    sysfs_root=root,
                    simulate=True,
                    physnets=DEMO_PHYSNETS,
                    state_dir=state_dir,
                )
            )
    started = []
    for option in options:
        agent = build_agent(option)
        thread = threading.Thread(target=agent.run_forever, name=f"agent-{option.hostname}", daemon=True)
        thread.start()
        started.append((agent, thread))
    return started


class _Server(uvicorn.Server):
    """Ctrl-C stops the agents first (their passes finish against a live server, so nothing is
    cut off mid-request), then the server."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.agents: list[tuple[Agent, threading.Thread]] = []  # filled once the port answers
        self.stopping = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.stopping:  # a second Ctrl-C: stop now
            super().handle_exit(sig, frame)
            return
        self.stopping = True

        def stop_agents_then_server() -> None:
            for agent, _ in self.agents:
                agent.stop()
            for _, thread in self.agents:
                thread.join(timeout=10)
            super(_Server, self).handle_exit(sig, frame)

        threading.Thread(target=stop_agents_then_server, name="accord-stop", daemon=True).start()


def run_up(settings: Settings, demo: bool = False) -> None:
    setup_logging()
    try:
        sock = bind(settings.address, settings.port)
    except CannotListen as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(exc.exit_code) from None
    app = create_app(settings)
    server = _Server(
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
            log.error("server did not start answering; no local agent started")
            return
        if server.stopping:  # Ctrl-C came first
            return
        server.agents.extend(_start_agents(settings, demo))
        typer.echo(f"local agents reporting: {', '.join(a.hostname for a, _ in server.agents)}")

    threading.Thread(target=agents_when_ready, name="accord-agents", daemon=True).start()
    typer.echo(describe(settings))
    typer.echo(f"data directory: {settings.data_dir} (database {settings.effective_database_url})")
    typer.echo(f"console: http://{settings.address}:{settings.port}/console (Ctrl-C stops)")
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the signal it caught once it has shut down
        pass
    finally:
        for agent, _ in server.agents:
            agent.close()
