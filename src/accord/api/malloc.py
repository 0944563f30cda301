"""The server process's C allocator setting (memory, issue 13).

glibc gives each thread that allocates while another holds the main arena an arena of its own,
and keeps what each arena once held. The server's worker threads (the thread pool that runs the
sync handlers, up to one per concurrent request) each ended up with one: ~3.5 MiB of RSS after
`bench/peers_bench.py` on SQLite (SQLite's page cache and statement memory come from those
threads), ~1.5 MiB of it freed but kept. With one arena the threads reuse each other's free
memory. The GIL already serialises nearly all of their allocations, so the arena's lock is not
a point of contention; the CPU per request did not move (`bench/request_cpu.py`).
"""

from __future__ import annotations

import sys

M_ARENA_MAX = -8  # glibc's <malloc.h>


def limit_malloc_arenas(arenas: int = 1) -> bool:
    """Call before the process starts threads (arenas are made on demand). True if glibc took
    it; elsewhere (musl, macOS) nothing is changed."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes  # ~0.2 MiB, here only

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_ARENA_MAX, arenas))
