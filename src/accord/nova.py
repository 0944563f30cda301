"""Tell Nova when ARQs resolve: `accelerator-request-bound` external events (microversion 2.82).

Sent after the database commit by one background sender thread fed by a bounded queue, with
bounded retries; Nova being down is logged, never an error for the caller. When Nova is so slow
that the queue fills, further batches are dropped with an error log rather than piling up
threads or memory: Nova also polls `GET ?instance=`, so a dropped event only delays it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

NOVA_MICROVERSION = "2.82"
QUEUE_BATCHES = 1000


@dataclass(frozen=True)
class BindEvent:
    instance_uuid: str
    arq_uuid: str
    status: str  # completed | failed

    def to_json(self) -> dict[str, str]:
        return {
            "name": "accelerator-request-bound",
            "server_uuid": self.instance_uuid,
            "tag": self.arq_uuid,
            "status": self.status,
        }


class NovaNotifier:
    def __init__(
        self,
        nova_url: str,
        token: str = "",
        retries: int = 3,
        backoff_s: float = 0.5,
        queue_batches: int = QUEUE_BATCHES,
    ) -> None:
        self.url = nova_url.rstrip("/") + "/os-server-external-events"
        self.token = token
        self.retries = max(1, retries)
        self.backoff_s = backoff_s
        self.dropped = 0  # batches dropped because the queue was full
        self._queue: queue.Queue[list[BindEvent] | None] = queue.Queue(maxsize=queue_batches)
        self._lock = threading.Lock()
        self._sender: threading.Thread | None = None

    def send(self, events: Sequence[BindEvent]) -> bool:
        """Post the events now; True when Nova accepted them."""
        import httpx  # only servers that notify Nova load it (it drags Rich in with it)

        headers = {
            "OpenStack-API-Version": f"compute {NOVA_MICROVERSION}",
            "X-OpenStack-Nova-API-Version": NOVA_MICROVERSION,
        }
        if self.token:
            headers["X-Auth-Token"] = self.token
        body = {"events": [e.to_json() for e in events]}
        for attempt in range(1, self.retries + 1):
            try:
                response = httpx.post(self.url, json=body, headers=headers, timeout=10)
            except httpx.HTTPError as exc:
                log.warning("Nova unreachable (attempt %d/%d): %s", attempt, self.retries, exc)
            else:
                if response.status_code in (200, 207):
                    # 207 with every event 422 means Nova no longer waits for them: fine.
                    return True
                log.warning("Nova answered %d to bind events: %s", response.status_code, response.text[:200])
                if 400 <= response.status_code < 500:
                    return False
            time.sleep(self.backoff_s * attempt)
        log.error("giving up on %d bind events for Nova after %d attempts", len(events), self.retries)
        return False

    def send_in_background(self, events: Sequence[BindEvent]) -> None:
        """Queue the events for the sender thread; never blocks the caller."""
        if not events:
            return
        self._ensure_sender()
        try:
            self._queue.put_nowait(list(events))
        except queue.Full:
            with self._lock:
                self.dropped += 1
            log.error(
                "Nova event queue full (%d batches): dropped %d bind events (Nova also polls)",
                self._queue.maxsize,
                len(events),
            )

    def _ensure_sender(self) -> None:
        with self._lock:
            if self._sender is None:
                self._sender = threading.Thread(target=self._drain, name="accord-nova-events", daemon=True)
                self._sender.start()

    def _drain(self) -> None:
        while True:
            batch = self._queue.get()
            try:
                if batch is None:
                    return
                self.send(batch)
            except Exception:  # one bad batch never stops the sender
                log.exception("sending bind events to Nova failed")
            finally:
                self._queue.task_done()

    def wait(self, timeout: float = 10.0) -> bool:
        """Wait until every queued batch was sent (or given up on); True if it got there."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Send what is queued (within `timeout`), then end the sender thread (a later send
        starts a new one)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            sender, self._sender = self._sender, None
        if sender is None:
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            log.error("Nova event queue still full at shutdown; %d batches not sent", self._queue.qsize())
            return
        sender.join(max(0.0, deadline - time.monotonic()))
        if sender.is_alive():
            log.error("Nova events still being sent at shutdown; %d batches left", self._queue.qsize())
