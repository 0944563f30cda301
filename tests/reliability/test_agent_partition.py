"""An agent cut off from the server for longer than the lost-host period: the server stops
offering the host's devices but takes nothing from an instance that holds them; the agent keeps
discovering, backs off, and on return reports once and never runs a finished operation again."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from accord.agent.runner import AgentOptions, build_agent
from accord.agent.sim.kernel import tool_runs
from accord.images.formats.build import build_gbs
from tests.e2e.test_programming_e2e import HOST, NEW_AFU, open_rig, wait_for
from tests.fixtures.sysfs.hosts import N3000_INTERFACE
from tests.reliability.proxy import CuttableProxy

pytestmark = pytest.mark.slow

LOST_AFTER_S = "2"


def _counted(calls: list[str], name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        result = function(*args, **kwargs)
        calls.append(name)  # only calls that succeeded
        return result

    return counted


def test_agent_cut_off_past_the_lost_period_returns_without_rerunning_or_losing_handles(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    env = {"ACCORD_HOST_LOST_AFTER_S": LOST_AFTER_S}
    with open_rig(tmp_path, database_url, **env) as rig:
        port = int(rig.server.url.rsplit(":", 1)[1])
        proxy = CuttableProxy(port)
        options = AgentOptions(
            server=proxy.url,
            hostname=HOST,
            sysfs_root=rig.root,
            simulate=True,
            interval_s=60,
            heartbeat_s=0.3,
            poll_s=0.2,
            state_dir=tmp_path / "agent-state",
        )
        agent = build_agent(options)
        calls: list[str] = []
        agent.discover = _counted(calls, "discover", agent.discover)
        reporter: Any = agent.reporter
        reporter.report = _counted(calls, "report", reporter.report)
        reporter.heartbeat = _counted(calls, "heartbeat", reporter.heartbeat)
        thread = threading.Thread(target=agent.run_forever, daemon=True)
        thread.start()
        try:
            rig.image(build_gbs(NEW_AFU, N3000_INTERFACE))
            profile = rig.profile(NEW_AFU)
            response, arq = rig.bind(profile)  # programs the card through the agent
            assert response.status_code == 202
            wait_for(lambda: rig.arq(arq)["state"] == "Bound")
            held = rig.arq(arq)["attach_handle_uuid"]
            programs = len(tool_runs(rig.root))

            proxy.cut()
            wait_for(lambda: rig.admin.get(f"/v2/hosts/{HOST}").json()["state"] == "lost")
            # Lost: nothing offered, no new bind, but the instance keeps what it holds.
            candidates = rig.admin.get("/v2/allocation_candidates", params={"device_profile": profile})
            assert candidates.status_code == 200 and not candidates.json()["allocation_candidates"], (
                candidates.text
            )
            second, other = rig.bind(profile)
            assert second.status_code in (202, 409)
            assert rig.arq(other)["state"] != "Bound"
            assert rig.arq(arq)["state"] == "Bound" and rig.arq(arq)["attach_handle_uuid"] == held
            discovered_while_cut = calls.count("discover")
            wait_for(lambda: calls.count("discover") >= discovered_while_cut + 2)  # keeps discovering
            reports_before = calls.count("report")

            proxy.restore()
            wait_for(lambda: rig.admin.get(f"/v2/hosts/{HOST}").json()["state"] == "up")
            wait_for(lambda: "server answers again" in caplog.text)
            beats = calls.count("heartbeat")
            wait_for(lambda: calls.count("heartbeat") >= beats + 5)  # some more ticks: no second report
            assert calls.count("report") == reports_before + 1
            assert caplog.text.count("cut off from the server") == 1
            assert rig.arq(arq)["state"] == "Bound" and rig.arq(arq)["attach_handle_uuid"] == held
            assert len(tool_runs(rig.root)) == programs  # the program did not run again
            [operation] = rig.admin.get("/v2/operations").json()["operations"]
            assert (operation["state"], operation["attempts"]) == ("succeeded", 1)
        finally:
            agent.stop()
            thread.join(timeout=30)
            agent.reporter.close()
            proxy.cut()
