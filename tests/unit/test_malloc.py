"""The server's one-arena malloc setting (api/malloc.py): threads that allocate share the main
arena instead of each keeping one of its own."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import ctypes, os, sys, tempfile, threading
{setup}
def work():
    # allocations above pymalloc's 512-byte limit go to the C allocator, from this thread
    kept = [bytes(4096) for _ in range(2000)]
    barrier.wait()  # all threads allocate at the same time
    del kept
barrier = threading.Barrier(4)
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
path = tempfile.mktemp()
f = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, ctypes.c_void_p(f))
libc.fclose(ctypes.c_void_p(f))
print(open(path).read().count("<heap nr="))
os.unlink(path)
"""


def heaps(setup: str) -> int:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(setup=setup)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"PATH": "/usr/bin:/bin"},  # no MALLOC_ARENA_MAX from the caller
    )
    return int(result.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_threads_share_one_malloc_arena_once_limited() -> None:
    assert heaps("") > 1  # without the setting, concurrent threads get arenas of their own
    limited = "from accord.api.malloc import limit_malloc_arenas\nassert limit_malloc_arenas()"
    assert heaps(limited) == 1
