"""Bearer tokens kept in a JSON file in the data directory (`ACCORD_AUTH=token`).

Only each token's sha256 is stored, so the file does not leak usable credentials. The server
re-reads the file when it changes, so `accord token create` takes effect without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from accord.domain.context import RequestContext


@dataclass(frozen=True)
class TokenRecord:
    sha256: str
    user_id: str
    project_id: str
    roles: list[str] = field(default_factory=list)
    host: str | None = None

    def context(self) -> RequestContext:
        return RequestContext(
            user_id=self.user_id,
            project_id=self.project_id,
            roles=frozenset(self.roles),
            host=self.host,
        )


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._by_digest: dict[str, TokenRecord] = {}

    def _load(self) -> None:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self._by_digest, self._mtime = {}, None
            return
        if mtime == self._mtime:
            return
        data = json.loads(self.path.read_text() or "{}")
        self._by_digest = {r["sha256"]: TokenRecord(**r) for r in data.get("tokens", [])}
        self._mtime = mtime

    def lookup(self, token: str) -> RequestContext | None:
        presented = digest(token)
        with self._lock:
            self._load()
            # Keyed by the sha256 of the token: how long finding a key takes says something
            # about a digest, which cannot be turned back into a token; the final comparison is
            # constant-time all the same.
            record = self._by_digest.get(presented)
        if record is None or not hmac.compare_digest(record.sha256, presented):
            return None
        return record.context()

    def create(
        self, project_id: str, roles: list[str], user_id: str | None = None, host: str | None = None
    ) -> str:
        token = secrets.token_urlsafe(32)
        record = TokenRecord(
            sha256=digest(token),
            user_id=user_id or f"user-{secrets.token_hex(4)}",
            project_id=project_id,
            roles=sorted(set(roles)),
            host=host,
        )
        with self._lock:
            self._mtime = None
            self._load()
            records = [*self._by_digest.values(), record]
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"tokens": [asdict(r) for r in records]}, indent=1))
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        return token
