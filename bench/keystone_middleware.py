"""keystonemiddleware's auth_token hosted in-process: memory and cost per request of a cached token.

Run by bench/keystone.py with the Keystone venv's Python (keystone 30 ships keystonemiddleware);
not part of Accord. Prints one JSON line.

    .venv-keystone/bin/python bench/keystone_middleware.py AUTH_URL TOKEN OPTIONS_JSON [CALLS]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    auth_url, token, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    calls = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
    before = rss_mib()
    from keystonemiddleware import auth_token

    imported = rss_mib()
    conf = {k: ",".join(v) if isinstance(v, list) else str(v) for k, v in options.items()}
    conf["include_service_catalog"] = "false"
    seen: list[dict[str, Any]] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    middleware = auth_token.AuthProtocol(app, conf)

    def call() -> str:
        status: list[str] = []
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/v2/device_profiles",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "6666",
            "wsgi.url_scheme": "http",
            "HTTP_X_AUTH_TOKEN": token,
        }
        b"".join(middleware(environ, lambda s, h, e=None: status.append(s)))
        return status[0]

    started = time.perf_counter()
    first = call()
    miss_ms = (time.perf_counter() - started) * 1000
    assert first.startswith("200"), first
    assert seen[-1]["HTTP_X_ROLES"], "keystonemiddleware set no roles"
    durations = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        durations.append(time.perf_counter() - started)
    print(
        json.dumps(
            {
                "import_mib": round(imported - before, 1),
                "rss_mib": round(rss_mib() - before, 1),
                "miss_ms": round(miss_ms, 1),
                "hit_us_p50": round(statistics.median(durations) * 1e6, 1),
                "hit_us_p99": round(sorted(durations)[int(len(durations) * 0.99) - 1] * 1e6, 1),
                "auth_url": auth_url,
            }
        )
    )


if __name__ == "__main__":
    main()
