"""SQL statements per API request, counted with a SQLAlchemy event hook on an in-process app.

The count does not depend on how busy the machine is, so it is the figure to compare before and
after a change to a request path. Counts every statement the driver executes (BEGIN/COMMIT
issued by the driver are not statements here; SAVEPOINTs are).

    .venv/bin/python bench/statements.py [--backends postgresql,sqlite]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from binds import ADMIN, drop_database, in_process_environment, make_database  # noqa: E402
from tests.scenarios import fpga_host_snapshot  # noqa: E402

from accord.api.app import create_app  # noqa: E402
from accord.config import load_settings  # noqa: E402
from accord.store.db import Database  # noqa: E402
from accord.store.migrate import upgrade_in_child  # noqa: E402

SHOW_STATEMENTS = False


class StatementCounter:
    def __init__(self, db: Database) -> None:
        self.kinds: Counter[str] = Counter()
        self.texts: list[str] = []
        event.listen(db.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.kinds[statement.split(None, 1)[0].upper()] += 1
        self.texts.append(" ".join(statement.split()))

    @contextmanager
    def counting(self, label: str = "") -> Iterator[Counter[str]]:
        self.kinds.clear()
        self.texts.clear()
        seen: Counter[str] = Counter()
        yield seen
        seen.update(self.kinds)
        if SHOW_STATEMENTS:
            print(f"-- {label}", file=sys.stderr)
            for text in self.texts:
                print(f"    {text[:160]}", file=sys.stderr)


def measure(backend: str) -> list[tuple[str, Counter[str]]]:
    rows: list[tuple[str, Counter[str]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        url, name = make_database(backend, Path(tmp))
        try:
            upgrade_in_child(url)
            in_process_environment(Path(tmp), url)
            db = Database(url)
            counter = StatementCounter(db)
            with TestClient(create_app(load_settings(), db), headers=ADMIN) as client:
                client.post(
                    "/v2/hosts/bench-host/inventory", json=fpga_host_snapshot("bench-host", vfs=64)
                ).raise_for_status()
                for i in range(10):
                    client.post(
                        "/v2/device_profiles",
                        json=[{"name": f"seed-{i}", "groups": [{"resources:FPGA": "1"}]}],
                    )
                rp = client.get("/v2/deployables").json()["deployables"][0]["rp_uuid"]
                for _warm in range(2):
                    with counter.counting("GET profiles") as get:
                        client.get("/v2/device_profiles").raise_for_status()
                    with counter.counting("POST profile") as post:
                        client.post(
                            "/v2/device_profiles", json=[{"name": "p", "groups": [{"resources:FPGA": "1"}]}]
                        ).raise_for_status()
                    with counter.counting("DELETE profile") as delete:
                        client.delete("/v2/device_profiles/p").raise_for_status()
                    with counter.counting("POST ARQ") as create:
                        arq = client.post(
                            "/v2/accelerator_requests", json={"device_profile_name": "seed-0"}
                        ).json()["arqs"][0]["uuid"]
                    instance = str(uuid.uuid4())
                    ops = [
                        {"op": "add", "path": "/hostname", "value": "bench-host"},
                        {"op": "add", "path": "/device_rp_uuid", "value": rp},
                        {"op": "add", "path": "/instance_uuid", "value": instance},
                    ]
                    with counter.counting("PATCH bind") as bind:
                        assert client.patch("/v2/accelerator_requests", json={arq: ops}).status_code == 202
                    with counter.counting("GET ARQ") as show:
                        assert client.get(f"/v2/accelerator_requests/{arq}").json()["state"] == "Bound"
                    with counter.counting("DELETE ?instance=") as remove:
                        client.delete(f"/v2/accelerator_requests?instance={instance}").raise_for_status()
                    arq = client.post("/v2/accelerator_requests", json={"device_profile_name": "seed-0"})
                    arq = arq.json()["arqs"][0]["uuid"]
                    with counter.counting("DELETE ?arqs= (Initial)") as remove_initial:
                        client.delete(f"/v2/accelerator_requests?arqs={arq}").raise_for_status()
                    arq = client.post("/v2/accelerator_requests", json={"device_profile_name": "seed-0"})
                    arq = arq.json()["arqs"][0]["uuid"]
                    assert client.patch("/v2/accelerator_requests", json={arq: ops}).status_code == 202
                    with counter.counting("DELETE ?arqs= (bound)") as remove_bound:
                        client.delete(f"/v2/accelerator_requests?arqs={arq}").raise_for_status()
                    arq = client.post(
                        "/v2/accelerator_requests", json={"device_profile_name": "seed-0"}
                    ).json()["arqs"][0]["uuid"]
                    instance = str(uuid.uuid4())
                    only_instance = [{"op": "add", "path": "/instance_uuid", "value": instance}]
                    with counter.counting("PATCH host-less bind") as hostless:
                        response = client.patch("/v2/accelerator_requests", json={arq: only_instance})
                        assert response.status_code == 202
                    client.delete(f"/v2/accelerator_requests?instance={instance}").raise_for_status()
                rows = [
                    ("GET /v2/device_profiles (10)", get),
                    ("POST /v2/device_profiles", post),
                    ("DELETE /v2/device_profiles/{name}", delete),
                    ("POST /v2/accelerator_requests", create),
                    ("PATCH bind (Nova's form)", bind),
                    ("GET /v2/accelerator_requests/{uuid}", show),
                    ("DELETE ?instance= (bound)", remove),
                    ("DELETE ?arqs= (Initial)", remove_initial),
                    ("DELETE ?arqs= (bound)", remove_bound),
                    ("PATCH bind (host-less, scheduler index built)", hostless),
                ]
            db.dispose()
        finally:
            drop_database(name)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--show", action="store_true", help="print each statement (stderr)")
    args = parser.parse_args()
    global SHOW_STATEMENTS
    SHOW_STATEMENTS = args.show
    print("| backend | request | statements | by kind |")
    print("|---|---|---:|---|")
    for backend in args.backends.split(","):
        for label, kinds in measure(backend):
            detail = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
            print(f"| {backend} | {label} | {sum(kinds.values())} | {detail} |")


if __name__ == "__main__":
    main()
