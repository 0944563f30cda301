"""What keystone mode costs: GET latency and server RSS in noauth, token and keystone modes
against a real Keystone 30 on loopback, Accord's cached validation per request, and the same for
keystonemiddleware's auth_token hosted in-process (the alternative Accord did not take).

Workloads, at concurrency 1, one server per mode on the same database: GET
/v2/device_profiles (10 profiles) with noauth headers, a token-file token, a Keystone token
(validated once, then cached) and a token-file token in keystone mode; the first request of
fresh Keystone tokens (a cache miss: one `GET /v3/auth/tokens` to Keystone).

    .venv/bin/python bench/keystone.py [--duration 5] [--backend sqlite] [--misses 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from binds import drop_database, make_database  # noqa: E402
from tests.keystone.conftest import write_config  # noqa: E402
from tests.keystone_server import KEYSTONE_BIN, KeystoneCloud, keystone_cloud  # noqa: E402
from tests.live_server import LiveServer, live_server  # noqa: E402

from api import rss_mib  # noqa: E402

NOAUTH_ADMIN = {"X-Project-Id": "bench", "X-User-Id": "bench", "X-Roles": "admin"}


def timed_gets(url: str, headers: dict[str, str], duration: float) -> tuple[float, float, float]:
    latencies: list[float] = []
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        client.get("/v2/device_profiles").raise_for_status()  # warm: the token is cached from here on
        stop = time.monotonic() + duration
        while time.monotonic() < stop:
            started = time.perf_counter()
            client.get("/v2/device_profiles").raise_for_status()
            latencies.append(time.perf_counter() - started)
    latencies.sort()
    total = sum(latencies)
    return (
        len(latencies) / total,
        statistics.median(latencies) * 1000,
        latencies[int(len(latencies) * 0.99) - 1] * 1000,
    )


def first_requests(url: str, cloud: KeystoneCloud, count: int) -> float:
    """p50 ms of the first GET with each of `count` fresh tokens (each a cache miss)."""
    tokens = [cloud.issue("a-admin") for _ in range(count)]
    latencies = []
    for token in tokens:
        started = time.perf_counter()
        httpx.get(url + "/v2/device_profiles", headers={"X-Auth-Token": token}, timeout=60).raise_for_status()
        latencies.append(time.perf_counter() - started)
    return statistics.median(latencies) * 1000


@contextmanager
def server(
    tmp: Path, name: str, database_url: str, auth: str, config: Path | None = None
) -> Iterator[LiveServer]:
    env = {"ACCORD_RECONCILE_INTERVAL_S": "0"}
    with live_server(tmp / name, database_url, auth=auth, env=env, config=config) as running:
        yield running


def seed(url: str) -> None:
    with httpx.Client(base_url=url, headers=NOAUTH_ADMIN, timeout=60) as client:
        for i in range(10):
            client.post(
                "/v2/device_profiles", json=[{"name": f"seed-{i}", "groups": [{"resources:FPGA": "1"}]}]
            )


def in_process_hit_us(cloud: KeystoneCloud, calls: int = 20000) -> float:
    """Accord's KeystoneAuthenticator on a cached token, in this process: p50 µs per request."""
    from accord.api.keystone_auth import keystone_authenticator
    from accord.api.tokens import TokenStore
    from accord.config import KeystoneAuthtoken

    options = cloud.authtoken_options()
    options["service_token_roles"] = tuple(options["service_token_roles"])
    with tempfile.TemporaryDirectory() as tmp:
        authenticate = keystone_authenticator(
            TokenStore(Path(tmp) / "tokens.json"), KeystoneAuthtoken(**options)
        )
        headers = {"x-auth-token": cloud.token("a-admin")}
        authenticate(headers)
        durations = []
        for _ in range(calls):
            started = time.perf_counter()
            authenticate(headers)
            durations.append(time.perf_counter() - started)
    return statistics.median(durations) * 1e6


def hosted_middleware(cloud: KeystoneCloud) -> dict[str, float]:
    """keystonemiddleware's auth_token in the Keystone venv's Python (bench/keystone_middleware.py)."""
    result = subprocess.run(
        [
            str(KEYSTONE_BIN / "python"),
            str(ROOT / "bench" / "keystone_middleware.py"),
            cloud.identity_url,
            cloud.token("a-admin"),
            json.dumps(cloud.authtoken_options()),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--misses", type=int, default=20)
    args = parser.parse_args()
    print(
        f"# Keystone bench: {args.duration:.0f} s per workload, {args.backend}; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs\n"
    )
    rows: list[tuple[str, str, float, float, float]] = []
    rss: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        database_url, database_name = make_database(args.backend, tmp)
        try:
            with keystone_cloud(tmp / "keystone") as cloud:
                with server(tmp, "noauth", database_url, "noauth") as noauth:
                    seed(noauth.url)
                    rows.append(("noauth", "headers", *timed_gets(noauth.url, NOAUTH_ADMIN, args.duration)))
                    rss["noauth"] = rss_mib(noauth.process.pid)
                with server(tmp, "token", database_url, "token") as token_mode:
                    static = {"X-Auth-Token": token_mode.token("bench", "admin")}
                    rows.append(
                        ("token", "tokens.json token", *timed_gets(token_mode.url, static, args.duration))
                    )
                    rss["token"] = rss_mib(token_mode.process.pid)
                config = write_config(tmp / "accord.toml", cloud)
                with server(tmp, "keystone", database_url, "keystone", config) as keystone_mode:
                    idle = rss_mib(keystone_mode.process.pid)
                    cloud.register_accelerator(keystone_mode.url)
                    user = {"X-Auth-Token": cloud.token("a-admin")}
                    rows.append(
                        (
                            "keystone",
                            "Keystone token, cached",
                            *timed_gets(keystone_mode.url, user, args.duration),
                        )
                    )
                    static = {"X-Auth-Token": keystone_mode.token("bench", "admin")}
                    rows.append(
                        (
                            "keystone",
                            "tokens.json token",
                            *timed_gets(keystone_mode.url, static, args.duration),
                        )
                    )
                    miss = first_requests(keystone_mode.url, cloud, args.misses)
                    rss["keystone"] = rss_mib(keystone_mode.process.pid)
                    rss["keystone (idle, before any token)"] = idle
                hit_us = in_process_hit_us(cloud)
                middleware = hosted_middleware(cloud)
        finally:
            drop_database(database_name)

    print("| mode | credential | GET/s | p50 ms | p99 ms |")
    print("|---|---|---:|---:|---:|")
    for mode, credential, rate, p50, p99 in rows:
        print(f"| {mode} | {credential} | {rate:.0f} | {p50:.2f} | {p99:.2f} |")
    print(f"\nfirst request with a fresh Keystone token (cache miss), p50 of {args.misses}: {miss:.1f} ms\n")
    print("| server | RSS MiB | peak MiB |")
    print("|---|---:|---:|")
    for mode, (now, peak) in rss.items():
        print(f"| {mode} | {now:.0f} | {peak:.0f} |")
    print("\n| token validation, cached token, in-process | p50 µs per request |")
    print("|---|---:|")
    print(f"| Accord (keystoneauth1 + own cache) | {hit_us:.1f} |")
    print(f"| keystonemiddleware auth_token as WSGI, in-process cache | {middleware['hit_us_p50']:.1f} |")
    print(
        f"\nkeystonemiddleware: +{middleware['import_mib']:.0f} MiB to import, "
        f"+{middleware['rss_mib']:.0f} MiB after one validation and 2000 cached calls; "
        f"p99 {middleware['hit_us_p99']:.0f} µs"
    )


if __name__ == "__main__":
    main()
