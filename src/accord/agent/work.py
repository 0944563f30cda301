"""The agent's operations: claimed from the server, each run in a worker thread, reported when
done, and held (named in every heartbeat, which renews their leases) until then.

The agent's loop stays free to heartbeat while a flash takes twenty minutes. Rules that keep an
operation to one run:
- at most one operation per device at a time (the server claims that way; a second one for a
  busy device waits here, still held, until the device is free);
- an operation uuid this agent already started is never started again: one still running is
  just held on (the server re-leased it), one already finished is answered with its recorded
  outcome (`OperationJournal`), one a killed earlier run of the agent left unfinished is run
  again only when its kind may be retried after an interruption (never a firmware flash: that
  is reported as interrupted, and the server quarantines the device).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from accord.agent.executor import Outcome
from accord.agent.journal import OperationJournal
from accord.agent.reporter import Reporter, ServerRefused, ServerUnreachable
from accord.domain.operation import FLASH_INTERRUPTED, retried_after_interruption

log = logging.getLogger(__name__)

Execute = Callable[[dict[str, Any]], Outcome]


@dataclass
class Job:
    operation: dict[str, Any]
    attempt: int
    thread: threading.Thread | None = None
    outcome: Outcome | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def uuid(self) -> str:
        return str(self.operation["uuid"])

    @property
    def device(self) -> str:
        return str((self.operation.get("params") or {}).get("pci_address") or self.uuid)


@dataclass
class Result:
    uuid: str
    attempt: int
    outcome: Outcome


def interrupted_outcome(kind: str, attempt: int) -> Outcome:
    return Outcome(
        False,
        {"interrupted": True},
        f"{FLASH_INTERRUPTED}: the agent stopped while attempt {attempt} of this {kind} ran; "
        "not started again, since the device may hold a partial image",
    )


class OperationWorkers:
    def __init__(
        self,
        reporter: Reporter,
        execute: Execute,
        journal: OperationJournal | None = None,
        max_running: int = 4,
        wake: threading.Event | None = None,
    ) -> None:
        self.reporter = reporter
        self.execute = execute
        self.journal = journal or OperationJournal()
        self.max_running = max_running
        self.wake = wake or threading.Event()  # set whenever a worker finishes
        self.lease_s: float | None = None  # from the server's claim answer
        self.jobs: dict[str, Job] = {}  # held: running, or waiting for their device
        self.results: list[Result] = []  # finished, not yet taken by the server
        self._not_held_logged: set[str] = set()

    @property
    def busy(self) -> bool:
        return bool(self.jobs)

    @property
    def capacity(self) -> int:
        return max(0, self.max_running - len(self.jobs))

    def held(self) -> list[str]:
        """The uuids to name in the heartbeat: their leases are renewed."""
        return list(self.jobs)

    def renew_every(self, default_s: float) -> float:
        """Renew three times per lease, so two lost heartbeats in a row still keep it."""
        return default_s if self.lease_s is None else max(0.05, min(default_s, self.lease_s / 3))

    def recover(self) -> None:
        """At start: send results an earlier run never got through, and settle operations it
        was killed in the middle of."""
        for entry in self.journal.unreported():
            outcome = entry.result()
            if outcome is None and retried_after_interruption(entry.kind):
                self.journal.reported(entry.uuid)  # the server retries it after its lease
                continue
            if outcome is None:
                log.error("operation %s (%s) was cut off by an agent restart", entry.uuid, entry.kind)
                outcome = interrupted_outcome(entry.kind, entry.attempt)
                self.journal.finished(entry.uuid, outcome, entry.attempt)
            self.results.append(Result(entry.uuid, entry.attempt, outcome))
        self.report()

    def claim(self) -> int:
        """Claim up to the free capacity; returns how many operations were taken on."""
        if not self.capacity:
            return 0
        operations, lease_s = self.reporter.claim(self.capacity)
        if lease_s:
            self.lease_s = lease_s
        for operation in operations:
            self._take(operation)
        self._start_ready()
        if self.results:  # answered from the journal: no tool to wait for
            self.report()
        return len(operations)

    def _take(self, operation: dict[str, Any]) -> None:
        uuid, attempt, kind = str(operation["uuid"]), int(operation.get("attempts") or 1), operation["kind"]
        held = self.jobs.get(uuid)
        if held is not None:  # its lease ran out while the tool worked; the server re-leased it
            log.warning("operation %s handed out again (attempt %d) while still running here", uuid, attempt)
            held.attempt = attempt
            return
        entry = self.journal.get(uuid)
        if entry is not None and entry.outcome is not None:
            log.warning("operation %s handed out again; reporting its recorded outcome, not rerunning", uuid)
            self.results.append(Result(uuid, attempt, entry.outcome_or_failure()))
            return
        if entry is not None and not retried_after_interruption(kind):
            outcome = interrupted_outcome(kind, entry.attempt)
            self.journal.finished(uuid, outcome, attempt)
            self.results.append(Result(uuid, attempt, outcome))
            return
        self.jobs[uuid] = Job(operation, attempt)

    def _start_ready(self) -> None:
        busy = {job.device for job in self.jobs.values() if job.thread is not None and not job.done.is_set()}
        for job in self.jobs.values():
            if job.thread is None and job.device not in busy:
                busy.add(job.device)
                self.journal.started(job.uuid, str(job.operation["kind"]), job.attempt)
                job.thread = threading.Thread(
                    target=self._work, args=(job,), name=f"op-{job.uuid[:8]}", daemon=True
                )
                job.thread.start()

    def _work(self, job: Job) -> None:
        outcome = Outcome(False, error="the agent's worker stopped unexpectedly")
        try:
            outcome = self.execute(job.operation)
        except Exception as exc:  # the executor reports failures itself; this is a bug's net
            log.exception("operation %s crashed the worker", job.uuid)
            outcome = Outcome(False, error=f"{type(exc).__name__}: {exc}")
        finally:
            # Written down before anyone hears of it: a restart from here on reports, never reruns.
            self.journal.finished(job.uuid, outcome, job.attempt)
            job.outcome = outcome
            job.done.set()
            self.wake.set()

    def reap(self) -> int:
        """Report what finished; start what waited for its device. Returns how many finished."""
        finished = [job for job in self.jobs.values() if job.done.is_set()]
        for job in finished:
            del self.jobs[job.uuid]
            assert job.outcome is not None
            self.results.append(Result(job.uuid, job.attempt, job.outcome))
        self.report()
        self._start_ready()
        return len(finished)

    def report(self) -> None:
        """Send finished results; one the server cannot take now is kept and sent again later."""
        kept: list[Result] = []
        for result in self.results:
            outcome = result.outcome
            try:
                self.reporter.finish(
                    result.uuid, outcome.succeeded, outcome.result, outcome.error, result.attempt
                )
            except ServerRefused as exc:  # e.g. a late result after the lease ran out: nothing to redo
                log.warning("result of operation %s refused: %s", result.uuid, exc)
            except ServerUnreachable as exc:
                log.warning("result of operation %s not delivered yet: %s", result.uuid, exc)
                kept.append(result)
                continue
            self.journal.reported(result.uuid)
        self.results = kept

    def note_beat(self, beat: dict[str, Any]) -> None:
        if isinstance(beat.get("lease_s"), (int, float)) and beat["lease_s"] > 0:
            self.lease_s = float(beat["lease_s"])
        for uuid in beat.get("not_held") or []:
            if uuid in self.jobs and uuid not in self._not_held_logged:
                self._not_held_logged.add(uuid)
                log.error(
                    "operation %s lost its lease while still running here; its result will be refused",
                    uuid,
                )
