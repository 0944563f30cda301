"""Server CPU per request of the paths every request crosses, from a cheap client.

Starts one `accord serve` (SQLite, noauth, one worker), seeds 10 device profiles, then per op
sends N requests over C keep-alive connections from a raw-socket client (prebuilt requests with
bench.py's headers, so the client costs little next to the server) and reads the server's CPU
time from /proc before and after: ms of server CPU per request, whatever else the machine does.

`--callgrind` runs the server under `valgrind --tool=callgrind` and reports instructions per
request instead (counters zeroed after the warm-up, dumped after the op): a figure that does not
move with the machine's load, though it leaves out the kernel.

`--profile FILE` records a py-spy profile of the server meanwhile (raw collapsed stacks).

    .venv/bin/python bench/server_cpu.py [--ops list,show,post-delete,missing] [-n 5000] [-c 1,4]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live_server import free_port, terminate, wait_until_up  # noqa: E402

HEADERS = (
    "User-Agent: python-requests/2.32\r\nAccept-Encoding: gzip, deflate\r\nAccept: application/json\r\n"
    "Connection: keep-alive\r\nContent-Type: application/json\r\n"
    "OpenStack-API-Version: accelerator 2.0\r\nX-Roles: admin,member,reader\r\n"
    "X-Project-Id: bench\r\nX-User-Id: bench\r\n"
)
GROUPS = [{"resources:FPGA": "1"}]


class Connection:
    """One keep-alive HTTP/1.1 connection; reads exactly one response per request."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.host = f"Host: 127.0.0.1:{port}\r\n"
        self.buffer = b""

    def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        length = f"Content-Length: {len(body)}\r\n" if body or method in ("POST", "PUT", "PATCH") else ""
        self.sock.sendall(f"{method} {path} HTTP/1.1\r\n{self.host}{HEADERS}{length}\r\n".encode() + body)
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        size = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                size = int(value)
        while len(self.buffer) < size:
            self._fill()
        content, self.buffer = self.buffer[:size], self.buffer[size:]
        return status, content

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


def expect(status: int, content: bytes, wanted: int) -> bytes:
    if status != wanted:
        raise AssertionError(f"{status} (wanted {wanted}): {content[:200]!r}")
    return content


def operations(first_uuid: str) -> dict[str, Callable[[Connection], int]]:
    """Each op: the requests of one iteration and the count it sent."""

    def list_(conn: Connection) -> int:
        expect(*conn.request("GET", "/v2/device_profiles"), 200)
        return 1

    def show(conn: Connection) -> int:
        expect(*conn.request("GET", "/v2/device_profiles/" + first_uuid), 200)
        return 1

    def missing(conn: Connection) -> int:
        expect(*conn.request("GET", "/v2/device_profiles/" + str(uuid.uuid4())), 404)
        return 1

    def post_delete(conn: Connection) -> int:
        body = json.dumps([{"name": "bench-" + uuid.uuid4().hex[:12], "groups": GROUPS}]).encode()
        created = json.loads(expect(*conn.request("POST", "/v2/device_profiles", body), 201))
        expect(*conn.request("DELETE", "/v2/device_profiles/" + created["uuid"]), 204)
        return 2

    return {"list": list_, "show": show, "post-delete": post_delete, "missing": missing}


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of the process (all its threads, living or ended)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def run(op: Callable[[Connection], int], port: int, iterations: int, concurrency: int) -> int:
    """`iterations` in all, split over `concurrency` connections; returns the requests sent."""
    sent = [0] * concurrency
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        conn = Connection(port)
        try:
            for _ in range(iterations // concurrency):
                sent[index] += op(conn)
        except BaseException as exc:  # reported by the caller
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return sum(sent)


def callgrind_total(pid: int, out: Path) -> int:
    """Instructions counted since the last zeroing (dumps, then reads the newest dump's totals)."""
    before = set(out.parent.glob(out.name + "*"))
    subprocess.run(["callgrind_control", "-d", str(pid)], check=True, capture_output=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = set(out.parent.glob(out.name + "*")) - before
        for path in new:
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith(("summary:", "totals:")):
                    return int(line.split()[1])
        time.sleep(0.5)
    raise RuntimeError("callgrind wrote no dump")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", default="list,show,post-delete,missing")
    parser.add_argument("-n", type=int, default=5000, help="iterations per op and concurrency")
    parser.add_argument("-c", "--concurrency", default="1,4")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--callgrind", action="store_true", help="instructions per request (slow)")
    parser.add_argument("--profile", help="py-spy raw profile of the server, written here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        port = free_port()
        env = {
            **os.environ,
            "ACCORD_DATA_DIR": str(data),
            "ACCORD_DATABASE_URL": f"sqlite:///{data / 'accord.sqlite'}",
            "ACCORD_AUTH": "noauth",
            "ACCORD_RECONCILE_INTERVAL_S": "0",
        }
        accord = str(Path(sys.executable).parent / "accord")
        command = [accord, "serve", "--port", str(port)]
        out = data / "callgrind.out"
        if args.callgrind:
            command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command]
        log = (data / "server.log").open("wb")
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        spy = None
        try:
            wait_until_up(
                f"http://127.0.0.1:{port}",
                server,
                data / "server.log",
                timeout=1800 if args.callgrind else 90,
            )
            seed = Connection(port)
            uuids = []
            for i in range(10):
                body = json.dumps([{"name": f"seed-{i}", "groups": GROUPS}]).encode()
                uuids.append(
                    json.loads(expect(*seed.request("POST", "/v2/device_profiles", body), 201))["uuid"]
                )
            seed.close()
            ops = operations(uuids[0])
            if args.profile:
                spy = subprocess.Popen(
                    [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(server.pid), "--gil",
                     "--format", "raw", "--rate", "250", "--output", args.profile],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            print(f"# accord serve (SQLite, noauth, 1 worker); load average {os.getloadavg()[0]:.1f}")
            unit = "instructions per request" if args.callgrind else "server CPU ms per request"
            print(f"| op | conc. | requests | {unit} |\n|---|---:|---:|---:|")
            for concurrency in [int(c) for c in args.concurrency.split(",")]:
                for name in args.ops.split(","):
                    run(ops[name], port, min(args.warmup, args.n), concurrency)
                    if args.callgrind:
                        subprocess.run(
                            ["callgrind_control", "-z", str(server.pid)], check=True, capture_output=True
                        )
                    started = cpu_seconds(server.pid)
                    requests = run(ops[name], port, args.n, concurrency)
                    if args.callgrind:
                        figure = f"{callgrind_total(server.pid, out) / requests / 1e6:.3f} M"
                    else:
                        user, system = (b - a for a, b in zip(started, cpu_seconds(server.pid), strict=True))
                        figure = (
                            f"{(user + system) / requests * 1000:.3f} ({system / requests * 1000:.3f} sys)"
                        )
                    print(f"| {name} | {concurrency} | {requests} | {figure} |", flush=True)
            print(f"# load average at the end {os.getloadavg()[0]:.1f}")
        finally:
            if spy is not None:
                spy.send_signal(2)
                spy.wait(timeout=60)
            terminate(server, timeout=60)
            log.close()


if __name__ == "__main__":
    main()
