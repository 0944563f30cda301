"""Tell Nova when ARQs resolve: `accelerator-request-bound` external events (microversion 2.82).

Sent after the database commit, from a background thread, with bounded retries; Nova being
down is logged, never an error for the caller (Nova also polls `GET ?instance=`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

NOVA_MICROVERSION = "2.82"


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
    def __init__(self, nova_url: str, token: str = "", retries: int = 3, backoff_s: float = 0.5) -> None:
        self.url = nova_url.rstrip("/") + "/os-server-external-events"
        self.token = token
        self.retries = max(1, retries)
        self.backoff_s = backoff_s
        self._threads: list[threading.Thread] = []

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
        if not events:
            return
        thread = threading.Thread(target=self.send, args=(list(events),), daemon=True)
        thread.start()
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]

    def wait(self, timeout: float = 10.0) -> None:
        for thread in list(self._threads):
            thread.join(timeout)
