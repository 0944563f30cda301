"""Who can reach a server in its auth mode, said at start, and noauth kept on loopback.

noauth believes whatever `X-Roles` a caller sends, so anyone who reaches the port is admin;
it listens beyond loopback only when the operator turns on the switch named insecure.
"""

from __future__ import annotations

import ipaddress

from accord.config import Settings

# `accord serve` exits with this when noauth would listen beyond loopback
# (client codes are 0-7; 8 is a port it cannot take).
EXIT_UNSAFE = 9
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(address: str) -> bool:
    if address.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def refuse_reason(settings: Settings) -> str | None:
    """Why this server must not start, or None."""
    if settings.auth != "noauth" or is_loopback(settings.address) or settings.insecure_noauth_anywhere:
        return None
    return (
        f"refusing to listen on {settings.address} with ACCORD_AUTH=noauth: noauth trusts the "
        "X-Roles header, so anyone who can reach the port would be admin. Listen on 127.0.0.1, "
        "use ACCORD_AUTH=token or keystone, or, knowing this, pass --insecure-noauth-anywhere "
        "(ACCORD_INSECURE_NOAUTH_ANYWHERE=true)."
    )


def describe(settings: Settings) -> str:
    """One line for the startup log: the auth mode and who can reach the server."""
    scheme = "https" if settings.ssl_certfile else "http"
    where = f"{scheme}://{settings.address}:{settings.port}"
    reach = (
        "only this machine (loopback)"
        if is_loopback(settings.address)
        else "anyone who can route to this address"
    )
    mode = {
        "noauth": "noauth (callers are who their X-Roles/X-Project-Id headers say, admin included)",
        "token": f"token (bearer tokens from {settings.tokens_file})",
        "keystone": "keystone (Keystone tokens, and bearer tokens from the token file)",
    }[settings.auth]
    warning = (
        " -- INSECURE: noauth beyond loopback"
        if settings.auth == "noauth" and not is_loopback(settings.address)
        else ""
    )
    return f"Accord listening on {where}; auth: {mode}; reachable by {reach}{warning}"
