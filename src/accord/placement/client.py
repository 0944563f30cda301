"""A small Placement API client: the calls the mirror needs, at microversion 1.39.

Errors carry Placement's status and error code, because the mirror decides on them
(`placement.concurrent_update` → re-read and retry; `placement.resource_provider.inuse` → keep
the provider until its allocations are gone).
"""

from __future__ import annotations

from typing import Any

import httpx

MICROVERSION = "placement 1.39"


class PlacementError(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"Placement answered {status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail


class PlacementUnreachable(Exception):
    """Placement did not answer (down, wrong URL)."""


class PlacementClient:
    def __init__(self, url: str, token: str, timeout_s: float = 10.0) -> None:
        headers = {"OpenStack-API-Version": MICROVERSION, "Accept": "application/json"}
        if token:
            headers["X-Auth-Token"] = token
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self.http.close()

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        ok: tuple[int, ...] = (200,),
        params: dict[str, str] | None = None,
    ) -> Any:
        try:
            response = self.http.request(method, path, json=body, params=params)
        except httpx.HTTPError as exc:
            raise PlacementUnreachable(f"Placement at {self.http.base_url} is unreachable: {exc}") from exc
        if response.status_code not in ok:
            code, detail = "", response.text[:500]
            try:
                error = response.json()["errors"][0]
                code, detail = error.get("code", ""), error.get("detail", detail)
            except (ValueError, KeyError, IndexError, TypeError):
                pass
            raise PlacementError(response.status_code, code, detail)
        return response.json() if response.content else None

    def provider_by_name(self, name: str) -> dict[str, Any] | None:
        found = self._call("GET", "/resource_providers", params={"name": name})["resource_providers"]
        return found[0] if found else None

    def tree(self, root_uuid: str) -> list[dict[str, Any]]:
        return list(
            self._call("GET", "/resource_providers", params={"in_tree": root_uuid})["resource_providers"]
        )

    def provider(self, uuid: str) -> dict[str, Any] | None:
        found = self._call("GET", f"/resource_providers/{uuid}", ok=(200, 404))
        return dict(found) if found and "uuid" in found else None

    def create_provider(self, uuid: str, name: str, parent: str) -> dict[str, Any]:
        body = {"uuid": uuid, "name": name, "parent_provider_uuid": parent}
        return dict(self._call("POST", "/resource_providers", body))

    def delete_provider(self, uuid: str) -> None:
        self._call("DELETE", f"/resource_providers/{uuid}", ok=(204, 404))

    def inventories(self, uuid: str) -> tuple[dict[str, Any], int]:
        got = self._call("GET", f"/resource_providers/{uuid}/inventories")
        return got["inventories"], got["resource_provider_generation"]

    def set_inventories(self, uuid: str, generation: int, inventories: dict[str, Any]) -> int:
        body = {"resource_provider_generation": generation, "inventories": inventories}
        return int(
            self._call("PUT", f"/resource_providers/{uuid}/inventories", body)["resource_provider_generation"]
        )

    def traits(self, uuid: str) -> tuple[set[str], int]:
        got = self._call("GET", f"/resource_providers/{uuid}/traits")
        return set(got["traits"]), got["resource_provider_generation"]

    def set_traits(self, uuid: str, generation: int, traits: set[str]) -> int:
        body = {"resource_provider_generation": generation, "traits": sorted(traits)}
        return int(
            self._call("PUT", f"/resource_providers/{uuid}/traits", body)["resource_provider_generation"]
        )

    def ensure_trait(self, name: str) -> None:
        self._call("PUT", f"/traits/{name}", ok=(201, 204))

    def ensure_resource_class(self, name: str) -> None:
        self._call("PUT", f"/resource_classes/{name}", ok=(201, 204))
