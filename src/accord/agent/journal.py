"""The agent's memory of the operations it started, so it never starts one twice.

Each operation uuid is written down before its tool runs and again with its outcome when it
ends. When the server hands back a uuid this agent already finished (its first result came too
late and was refused), the agent reports the recorded outcome instead of running the tool again.
Kept in a small JSON file in the agent's state directory, it also survives a restart: an entry
with no outcome is an operation a previous run of the agent was killed in the middle of.
Without a file (tests, `--once`) it lives in memory only.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from accord.agent.executor import Outcome

log = logging.getLogger(__name__)

KEEP_FINISHED = 200  # reported entries kept to answer a late re-claim; older ones are dropped


@dataclass(frozen=True)
class Entry:
    uuid: str
    kind: str
    attempt: int
    started_at: float
    outcome: dict[str, Any] | None = None  # Outcome fields once the tool ended
    reported: bool = False  # the server took (or refused) the result: nothing left to send

    def result(self) -> Outcome | None:
        if self.outcome is None:
            return None
        return Outcome(bool(self.outcome["succeeded"]), dict(self.outcome["result"]), self.outcome["error"])

    def outcome_or_failure(self) -> Outcome:
        return self.result() or Outcome(False, error="no outcome was recorded")


class OperationJournal:
    def __init__(self, path: Path | None = None, keep_finished: int = KEEP_FINISHED) -> None:
        self.path = path
        self.keep_finished = keep_finished
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = self._load() if path is not None else {}

    def _load(self) -> dict[str, Entry]:
        assert self.path is not None
        try:
            raw = json.loads(self.path.read_text())
            return {uuid: Entry(**fields) for uuid, fields in raw.items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError) as exc:
            # A journal that cannot be read must not stop the agent; it only loses its memory.
            log.error("operation journal %s is unreadable (%s); starting a new one", self.path, exc)
            return {}

    def _save(self) -> None:
        """Atomic rewrite (temp file, fsync, rename): a crash leaves the old or the new journal."""
        if self.path is None:
            return
        # Entries are in the order they were started (a restart of an entry moves it last).
        reported = [uuid for uuid, entry in self._entries.items() if entry.reported]
        for uuid in reported[: max(0, len(reported) - self.keep_finished)]:
            del self._entries[uuid]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temp = self.path.with_name(self.path.name + ".tmp")
            with temp.open("w") as out:
                json.dump({uuid: asdict(entry) for uuid, entry in self._entries.items()}, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, self.path)
        except OSError as exc:
            # The memory of this run still holds; only a restart would forget what it started.
            log.error("cannot write operation journal %s: %s", self.path, exc)

    def get(self, uuid: str) -> Entry | None:
        with self._lock:
            return self._entries.get(uuid)

    def started(self, uuid: str, kind: str, attempt: int) -> None:
        with self._lock:
            self._entries.pop(uuid, None)
            self._entries[uuid] = Entry(uuid, kind, attempt, time.time())
            self._save()

    def finished(self, uuid: str, outcome: Outcome, attempt: int) -> None:
        with self._lock:
            entry = self._entries.get(uuid) or Entry(uuid, "", attempt, time.time())
            self._entries[uuid] = replace(entry, attempt=attempt, outcome=asdict(outcome), reported=False)
            self._save()

    def reported(self, uuid: str) -> None:
        with self._lock:
            entry = self._entries.get(uuid)
            if entry is not None and not entry.reported:
                self._entries[uuid] = replace(entry, reported=True)
                self._save()

    def unreported(self) -> list[Entry]:
        """Entries whose result never reached the server: finished ones, and ones a previous run
        of the agent was killed in the middle of (no outcome)."""
        with self._lock:
            return sorted((e for e in self._entries.values() if not e.reported), key=lambda e: e.started_at)
