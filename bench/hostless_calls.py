"""Python function calls per host-less bind (and its delete), in process, on PostgreSQL.

Counted with a profile hook in every thread (client and server in one process, the test
client's own calls included: deterministic, unlike CPU time on a shared machine), after the
scheduler index was built and with ACCORD_SCHEDULER_INDEX_MAX_AGE_S long enough that no look at
other workers' changes falls inside the count. A second round without the hook gives the
process CPU time per cycle.

    .venv/bin/python bench/hostless_calls.py [-n 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from binds import ADMIN, drop_database, in_process_environment, make_database  # noqa: E402
from tests.scenarios import fpga_host_snapshot  # noqa: E402

from accord.api.app import create_app  # noqa: E402
from accord.config import load_settings  # noqa: E402
from accord.store.db import Database  # noqa: E402
from accord.store.migrate import upgrade_in_child  # noqa: E402

COUNTING = False
CALLS = 0


def count_calls(_frame: object, event: str, _arg: object) -> None:
    global CALLS
    if COUNTING and event == "call":
        CALLS += 1


def main() -> None:
    global COUNTING
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="binds (each followed by its delete)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url, name = make_database("postgresql", Path(tmp))
        try:
            upgrade_in_child(url)
            in_process_environment(Path(tmp), url)
            db = Database(url)
            sys.setprofile(count_calls)
            threading.setprofile(count_calls)
            with TestClient(create_app(load_settings(), db), headers=ADMIN) as client:
                for i in range(50):
                    snapshot = fpga_host_snapshot(f"bench-{i:03d}", vfs=4, devices=8)
                    client.post(f"/v2/hosts/bench-{i:03d}/inventory", json=snapshot).raise_for_status()
                client.post(
                    "/v2/device_profiles", json=[{"name": "one", "groups": [{"resources:FPGA": "1"}]}]
                ).raise_for_status()

                def cycle() -> None:
                    arq = client.post("/v2/accelerator_requests", json={"device_profile_name": "one"})
                    instance = str(uuid.uuid4())
                    ops = [{"op": "add", "path": "/instance_uuid", "value": instance}]
                    assert (
                        client.patch(
                            "/v2/accelerator_requests", json={arq.json()["arqs"][0]["uuid"]: ops}
                        ).status_code
                        == 202
                    )
                    client.delete(f"/v2/accelerator_requests?instance={instance}").raise_for_status()

                cycle()  # builds the index
                COUNTING = True
                for _ in range(args.n):
                    cycle()
                COUNTING = False
                sys.setprofile(None)
                threading.setprofile(None)
                started = time.process_time()
                for _ in range(args.n):
                    cycle()
                spent = time.process_time() - started
            db.dispose()
        finally:
            drop_database(name)
    print(
        f"create + host-less bind + delete: {CALLS / args.n:.0f} Python calls per cycle, "
        f"{spent / args.n * 1000:.2f} ms process CPU per cycle (client and server, {args.n} cycles)"
    )


if __name__ == "__main__":
    main()
