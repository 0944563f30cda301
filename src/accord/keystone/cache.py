"""Validated tokens kept in the process: bounded (least recently used goes first), each entry
reused for at most `token_cache_time` seconds and never past the token's own expiry.

Keys are the tokens' sha256, so the cache holds no usable credential. A token Keystone refused
is remembered too (as keystonemiddleware does), so a client retrying a bad token does not
make every request a round trip to Keystone.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class TokenInfo:
    """What Keystone said about a valid token."""

    user_id: str
    project_id: str | None
    domain_id: str | None  # set for a domain-scoped token
    system_scope: str | None  # "all" for a system-scoped token
    roles: frozenset[str]
    expires_at: float  # epoch seconds
    restricted: bool = False  # an application credential with access rules

    def expired(self, now: float) -> bool:
        return self.expires_at <= now


# A token Keystone refused.
INVALID = "invalid"
Entry = TokenInfo | str

MAX_ENTRIES = 10_000


def token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenCache:
    def __init__(
        self, ttl_s: float, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.time
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[Entry, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Entry | None:
        """The cached verdict, or None when Keystone must be asked (unknown, stale, or expired)."""
        if self.ttl_s < 0:
            return None
        now = self.clock()
        with self._lock:
            item = self._entries.get(key)
            if item is None:
                return None
            entry, stored_at = item
            if now - stored_at >= self.ttl_s or (isinstance(entry, TokenInfo) and entry.expired(now)):
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: str, entry: Entry) -> None:
        if self.ttl_s < 0:
            return
        with self._lock:
            self._entries[key] = (entry, self.clock())
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
