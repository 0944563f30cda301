"""The agent's side of the wire: report snapshots and heartbeats, with bounded retries."""

from __future__ import annotations

import hashlib
import logging
import random
import ssl
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from accord.schemas.inventory import Heartbeat, InventorySnapshot

log = logging.getLogger(__name__)
JSON = {"Content-Type": "application/json"}


class ServerUnreachable(Exception):
    """The server could not be reached (or kept failing) after every retry."""


class ServerRefused(Exception):
    """The server answered with a client error: retrying would not help."""


class Reporter:
    def __init__(
        self,
        server_url: str,
        hostname: str,
        token: str | None = None,
        retries: int = 5,
        backoff_s: float = 0.5,
        timeout_s: float = 10.0,
        ca_file: str | None = None,
    ) -> None:
        self.base = server_url.rstrip("/")
        self.hostname = hostname
        self.retries = max(1, retries)
        self.retries_now: int | None = None  # set by a loop doing its own backoff
        self.backoff_s = backoff_s
        headers = (
            {"Authorization": f"Bearer {token}"}
            if token
            else {
                # A noauth server trusts these; the host header scopes the agent to its host.
                "X-User-Id": f"agent-{hostname}",
                "X-Roles": "agent",
                "X-Accord-Host": hostname,
            }
        )
        # An https server is verified against the system's CAs, or only against ca_file's. A plain
        # http server needs no TLS context: httpx would otherwise build one at once, loading every
        # CA certificate into the agent's memory (~1 MiB) for nothing.
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=ca_file)
            if ca_file
            else not self.base.lower().startswith("http://")
        )
        self.client = httpx.Client(base_url=self.base, headers=headers, timeout=timeout_s, verify=verify)

    def close(self) -> None:
        self.client.close()

    def _post(self, path: str, body: dict[str, Any] | bytes) -> Any:
        """POST `body` (a dict, or JSON already encoded), retried with backoff on 5xx and errors."""
        last: str = ""
        retries = self.retries_now or self.retries
        for attempt in range(1, retries + 1):
            try:
                if isinstance(body, bytes):
                    response = self.client.post(path, content=body, headers=JSON)
                else:
                    response = self.client.post(path, json=body)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 400:
                    return response.json()
                message = _error_message(response)
                if response.status_code < 500:
                    raise ServerRefused(f"{response.status_code} from {self.base}{path}: {message}")
                last = f"{response.status_code}: {message}"
            log.warning("server %s not answering (attempt %d/%d): %s", self.base, attempt, retries, last)
            if attempt < retries:  # jittered, so agents that lost the server together spread out
                time.sleep(self.backoff_s * 2 ** (attempt - 1) * random.uniform(0.5, 1.0))
        raise ServerUnreachable(f"cannot reach Accord at {self.base} after {retries} attempts ({last})")

    def report(self, snapshot: InventorySnapshot) -> dict[str, Any]:
        # Encoded by pydantic-core straight to JSON: a 500-function host's snapshot as a dict
        # first would be the agent's peak memory.
        body = snapshot.model_dump_json().encode()
        result: dict[str, Any] = self._post(f"/v2/hosts/{self.hostname}/inventory", body)
        return result

    def claim(self, limit: int = 4) -> tuple[list[dict[str, Any]], float | None]:
        """Up to `limit` queued operations, now leased to this agent, and the lease in seconds."""
        result = self._post(f"/v2/hosts/{self.hostname}/operations/claim", {"limit": limit})
        operations: list[dict[str, Any]] = result.get("operations", [])
        lease_s = result.get("lease_s")
        return operations, float(lease_s) if isinstance(lease_s, (int, float)) else None

    def finish(
        self,
        operation_uuid: str,
        succeeded: bool,
        result: dict[str, Any],
        error: str | None,
        attempt: int | None = None,
    ) -> dict[str, Any]:
        """The operation as the server recorded it (its completion may turn a wrong read-back
        into a failure)."""
        body: dict[str, Any] = {"succeeded": succeeded, "result": result, "error": error}
        if attempt is not None:
            body["attempt"] = attempt
        recorded: dict[str, Any] = self._post(f"/v2/hosts/{self.hostname}/operations/{operation_uuid}", body)
        return recorded

    def download_image(self, image_uuid: str, dest: Path) -> str:
        """Stream an image blob to `dest`; returns the sha256 of what actually arrived."""
        digest = hashlib.sha256()
        try:
            with self.client.stream("GET", f"/v2/images/{image_uuid}/file") as response:
                if response.status_code >= 400:
                    response.read()
                    raise ServerRefused(
                        f"{response.status_code} downloading image {image_uuid}: {_error_message(response)}"
                    )
                with dest.open("wb") as out:
                    for chunk in response.iter_bytes(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
        except httpx.HTTPError as exc:
            raise ServerUnreachable(f"downloading image {image_uuid} failed: {exc}") from exc
        return digest.hexdigest()

    def heartbeat(self, agent_version: str, operations: Sequence[str] = ()) -> dict[str, Any]:
        """Alive; and still working on `operations` (their leases are renewed)."""
        beat = Heartbeat(hostname=self.hostname, agent_version=agent_version, operations=list(operations))
        result: dict[str, Any] = self._post(f"/v2/hosts/{self.hostname}/heartbeat", beat.model_dump())
        return result


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error_message", response.text))
    except ValueError:
        return response.text[:200]
