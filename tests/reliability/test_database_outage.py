"""The database going away under load: a PostgreSQL cluster of the test's own is stopped (fast
shutdown, sessions cut, as in a failover) while clients bind, unbind and delete, then started
again. While it is down every request gets a 503 with an error_message, none hangs, /readyz
fails and the reconcilers pause; after it returns Accord serves fully without a restart, and the
store is consistent."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.live_server import live_server
from tests.pg_cluster import pg_cluster
from tests.reliability.workload import FailoverClient, check_invariants, prepare, run_storm

pytestmark = pytest.mark.slow

ENV = {
    "ACCORD_RECONCILE_INTERVAL_S": "0.5",
    "ACCORD_DATABASE_CONNECT_TIMEOUT_S": "2",
    "ACCORD_DATABASE_STATEMENT_TIMEOUT_S": "5",
}
SUCCESS = {"create": {201}, "bind": {202}, "show": {200}, "unbind": {202}, "delete": {204}}


def _wait_ready(url: str, ready: bool, timeout: float = 60) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if (httpx.get(url + "/readyz", timeout=10).status_code == 200) == ready:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"/readyz did not become {'ready' if ready else 'unready'} within {timeout}s")


def test_database_outage_under_load_gives_503s_then_full_service(tmp_path: Path) -> None:
    with pg_cluster() as cluster:
        database_url = cluster.create_database("accord")
        with live_server(tmp_path / "data", database_url, auth="noauth", env=ENV) as server:
            rp = prepare(server.url, handles=8)
            client = FailoverClient([server.url], timeout=30)
            stop = threading.Event()
            storm = threading.Thread(target=run_storm, args=(client, rp, 4, stop))
            storm.start()
            time.sleep(2)
            down_from = time.monotonic()
            cluster.stop()
            stopped_at = time.monotonic()
            unready_after = _wait_ready(server.url, ready=False)
            time.sleep(3)
            restart_at = time.monotonic()
            cluster.start()
            ready_after = _wait_ready(server.url, ready=True)
            up_again = time.monotonic()
            time.sleep(3)
            stop.set()
            storm.join(timeout=120)
            client.close()
            log = server.log()
        counts = check_invariants(database_url, bind_timeout_s=300)

    outcomes = client.outcomes
    during = [o for o in outcomes if o.started >= stopped_at and o.ended <= restart_at]
    after = [o for o in outcomes if o.started >= up_again]
    before = [o for o in outcomes if o.ended <= down_from]
    print(
        f"\noutage: {len(outcomes)} requests; {len(before)} before, {len(during)} while down, "
        f"{len(after)} after; /readyz unready {unready_after:.2f}s after the stop, ready "
        f"{ready_after:.2f}s after the start; longest request while down "
        f"{max((o.ended - o.started for o in during), default=0):.2f}s; store {counts}"
    )
    assert all(o.status != 500 and o.status != 0 for o in outcomes), [
        o for o in outcomes if o.status in (0, 500)
    ]
    assert during, "no request ran while the database was down"
    assert {o.status for o in during} == {503}, [o for o in during if o.status != 503]
    assert all("database cannot be reached" in o.message for o in during)
    assert after and all(o.status in SUCCESS[o.action] for o in after), [
        o for o in after if o.status not in SUCCESS[o.action]
    ]
    assert all(o.status in SUCCESS[o.action] for o in before)
    assert "background tasks paused" in log and "background tasks resumed" in log
