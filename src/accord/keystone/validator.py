"""Ask Keystone about a token, as keystonemiddleware does: authenticated as Accord's service
user (keystoneauth1's password plugin, `[keystone_authtoken]` options), `GET /v3/auth/tokens`
with the token in `X-Subject-Token`, on the catalog's identity endpoint for `interface`.

Keystone answering 404 means the token is invalid (unknown, expired, revoked). Anything else
that is not a 200 (Keystone down, timing out, refusing Accord's own credentials, no identity
endpoint) is KeystoneUnavailable: the caller answers 503 and asks again next request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from accord.config import KeystoneAuthtoken
from accord.keystone.cache import TokenInfo


class KeystoneUnavailable(Exception):
    """Keystone could not say whether a token is valid."""


def parse_token(body: dict[str, Any]) -> TokenInfo:
    token = body["token"]
    expires = datetime.fromisoformat(token["expires_at"].replace("Z", "+00:00"))
    app_cred = token.get("application_credential") or {}
    return TokenInfo(
        user_id=token["user"]["id"],
        project_id=(token.get("project") or {}).get("id"),
        domain_id=(token.get("domain") or {}).get("id"),
        system_scope="all" if (token.get("system") or {}).get("all") else None,
        roles=frozenset(r["name"].lower() for r in token.get("roles", [])),
        expires_at=expires.timestamp(),
        restricted=app_cred.get("access_rules") is not None,
    )


class KeystoneValidator:
    def __init__(self, options: KeystoneAuthtoken) -> None:
        from keystoneauth1 import session
        from keystoneauth1.identity import v3

        self.options = options
        auth = v3.Password(
            auth_url=options.auth_url,
            username=options.username,
            password=options.password,
            project_name=options.project_name,
            user_domain_name=options.user_domain_name,
            project_domain_name=options.project_domain_name,
        )
        verify: bool | str = not options.insecure
        if options.cafile and not options.insecure:
            verify = options.cafile
        self.session = session.Session(auth=auth, verify=verify, timeout=options.http_connect_timeout)
        self.endpoint_filter: dict[str, Any] = {
            "service_type": "identity",
            "interface": options.interface,
            "version": (3, 0),
        }
        if options.region_name:
            self.endpoint_filter["region_name"] = options.region_name

    def validate(self, token: str, allow_expired: bool = False) -> TokenInfo | None:
        """The token's facts, or None if Keystone says it is not valid."""
        from keystoneauth1 import exceptions

        params = {"nocatalog": "1"}
        if allow_expired:
            params["allow_expired"] = "1"
        try:
            response = self.session.get(
                "/auth/tokens",
                endpoint_filter=self.endpoint_filter,
                headers={"X-Subject-Token": token},
                params=params,
                raise_exc=False,
                connect_retries=self.options.http_request_max_retries,
            )
        except exceptions.ClientException as exc:
            # Rebuild the service token and the endpoint next time: Keystone may have moved.
            self.session.invalidate()
            raise KeystoneUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise KeystoneUnavailable(f"Keystone answered {response.status_code} to token validation")
        try:
            return parse_token(response.json())
        except (ValueError, KeyError, TypeError) as exc:
            raise KeystoneUnavailable(f"Keystone's answer cannot be read: {exc}") from exc
