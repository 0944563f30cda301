"""Settings: `ACCORD_*` environment variables, or a TOML file, cast once into one object.

The settings object is passed to the app factory and the agent; nothing imports it globally.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

AuthMode = Literal["noauth", "token", "keystone"]
AUTH_MODES: tuple[AuthMode, ...] = ("noauth", "token", "keystone")


class ConfigError(ValueError):
    """A setting has a value Accord cannot use."""


@dataclass(frozen=True)
class KeystoneAuthtoken:
    """The `[keystone_authtoken]` table: keystonemiddleware's option names and defaults, for the
    options Accord's own token validation uses (`ACCORD_AUTH=keystone`)."""

    www_authenticate_uri: str = ""  # sent in WWW-Authenticate on 401; empty: auth_url
    auth_url: str = ""
    auth_type: str = "password"
    username: str = ""
    password: str = ""
    project_name: str = ""
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    interface: str = "internal"  # which identity endpoint of the catalog validates tokens
    region_name: str = ""
    service_token_roles: tuple[str, ...] = ("service",)
    # True: a service token without one of those roles is refused (401); False: accepted, but
    # it then gives no service rights.
    service_token_roles_required: bool = True
    memcached_servers: tuple[str, ...] = ()  # accepted; each process keeps its own cache
    token_cache_time: int = 300  # seconds a validation is reused; -1: never cache
    http_connect_timeout: float = 10.0
    http_request_max_retries: int = 3
    cafile: str = ""
    insecure: bool = False


KEYSTONE_AUTH_TYPES = ("password", "v3password")


def default_data_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "accord"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    database_url: str = ""  # empty: SQLite file in data_dir
    auth: AuthMode = "noauth"
    nova_url: str = ""  # where accelerator-request-bound events go; empty: none are sent
    placement_url: str = ""  # mirror the provider tree into this Placement; empty: no mirror
    placement_token: str = ""  # X-Auth-Token for Placement ("admin" for a noauth2 Placement)
    dra_driver: str = "accelerators.accord"  # the DRA driver name ResourceSlices are exported under
    public_endpoint: str = ""  # base URL for links; empty: the request's own base URL
    address: str = "127.0.0.1"
    port: int = 6666
    max_body_bytes: int = 1024 * 1024  # JSON bodies; image uploads have their own limit
    max_image_bytes: int = 8 * 1024**3
    require_signatures: bool = False  # approve only images with a signature from a trusted key
    host_lost_after_s: float = 120.0
    bind_timeout_s: float = 300.0
    nova_event_retries: int = 3
    nova_token: str = ""  # X-Auth-Token sent to Nova, if it needs one
    # Candidate queries use an in-process index of the provider tree; a query asks the store
    # which hosts changed when the index last did so longer ago than this (s); 0 reads the store
    # on every query instead.
    scheduler_index_max_age_s: float = 1.0
    # ... and reads the whole fleet again this often (s), in the background: a safety net.
    scheduler_index_rebuild_s: float = 600.0
    scheduler_policy: str = "pack"  # pack | spread: how ties between equal candidates break
    operation_lease_s: float = 120.0  # an agent that claimed work and went quiet this long loses it
    program_wait_s: float = 30.0  # PATCH …/program answers 200 if done by then, else 202
    reconcile_interval_s: float = 10.0  # 0 disables the background reconcilers
    # PostgreSQL: bound on connecting (and, doubled, on waiting for a pooled connection), and on
    # any one statement; past them a request gets 503 instead of hanging on a dead database.
    database_connect_timeout_s: float = 5.0
    database_statement_timeout_s: float = 30.0
    # A background task's lease in the database (one replica runs each task at a time); a holder
    # that stops renewing is replaced after this long. 0: max(30 s, 3 reconcile intervals).
    task_lease_s: float = 0.0
    shutdown_timeout_s: float = 30.0  # SIGTERM: in-flight requests get this long to finish
    # noauth trusts headers, so it listens only on loopback unless this insecure switch is on.
    insecure_noauth_anywhere: bool = False
    ssl_certfile: str = ""  # serve HTTPS with this certificate chain (PEM) ...
    ssl_keyfile: str = ""  # ... and this private key
    # oslo.policy-style YAML overriding the default rules ([oslo_policy] policy_file in the TOML).
    policy_file: str = ""
    keystone_authtoken: KeystoneAuthtoken = field(default_factory=KeystoneAuthtoken)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'accord.sqlite'}"

    @property
    def effective_task_lease_s(self) -> float:
        return self.task_lease_s or max(30.0, 3 * self.reconcile_interval_s)

    @property
    def tokens_file(self) -> Path:
        return self.data_dir / "tokens.json"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "images"


def _cast(name: str, raw: object, current: object) -> object:
    if isinstance(current, bool):
        return str(raw).lower() in ("1", "true", "yes", "on")
    if isinstance(current, tuple):
        items = raw if isinstance(raw, list) else str(raw).split(",")
        return tuple(str(item).strip() for item in items if str(item).strip())
    if isinstance(current, int):
        try:
            return int(str(raw))
        except ValueError as exc:
            raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc
    if isinstance(current, float):
        try:
            return float(str(raw))
        except ValueError as exc:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if isinstance(current, Path):
        return Path(str(raw)).expanduser()
    return str(raw)


def _keystone_authtoken(table: object) -> KeystoneAuthtoken:
    if not isinstance(table, dict):
        raise ConfigError("[keystone_authtoken] must be a table")
    defaults = KeystoneAuthtoken()
    known = {f.name for f in fields(KeystoneAuthtoken)}
    unknown = set(table) - known
    if unknown:
        raise ConfigError(
            f"[keystone_authtoken] has options Accord does not use: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(known))})"
        )
    cast = {k: _cast(f"[keystone_authtoken] {k}", v, getattr(defaults, k)) for k, v in table.items()}
    return replace(defaults, **cast)  # type: ignore[arg-type]


def _oslo_policy(table: object, config_file: Path) -> dict[str, object]:
    """`[oslo_policy]`: the policy file (relative to the TOML file's folder). Accord always
    enforces scope and the new defaults, so those two may only be said to be true."""
    if not isinstance(table, dict):
        raise ConfigError("[oslo_policy] must be a table")
    for option in ("enforce_scope", "enforce_new_defaults"):
        if option in table and table[option] is not True:
            raise ConfigError(
                f"[oslo_policy] {option} cannot be turned off: Accord always enforces scope and "
                "Cyborg's new defaults; override single rules in the policy file instead"
            )
    unknown = set(table) - {"policy_file", "enforce_scope", "enforce_new_defaults"}
    if unknown:
        raise ConfigError(f"[oslo_policy] has options Accord does not use: {', '.join(sorted(unknown))}")
    if "policy_file" not in table:
        return {}
    path = Path(str(table["policy_file"])).expanduser()
    return {"policy_file": str(path if path.is_absolute() else config_file.parent / path)}


def _check_keystone(options: KeystoneAuthtoken) -> None:
    missing = [k for k in ("auth_url", "username", "password", "project_name") if not getattr(options, k)]
    if missing:
        raise ConfigError(f"ACCORD_AUTH=keystone needs [keystone_authtoken] {', '.join(missing)}")
    if options.auth_type not in KEYSTONE_AUTH_TYPES:
        raise ConfigError(
            f"[keystone_authtoken] auth_type {options.auth_type!r} is not supported (only password)"
        )
    if options.interface not in ("public", "internal", "admin"):
        raise ConfigError("[keystone_authtoken] interface must be public, internal or admin")


def load_settings(
    env: Mapping[str, str] | None = None, config_file: Path | None = None, **overrides: Any
) -> Settings:
    """Defaults, then the TOML file, then `ACCORD_*` variables, then explicit overrides."""
    env = os.environ if env is None else env
    settings = Settings()
    values: dict[str, object] = {}
    if config_file is not None:
        try:
            document = tomllib.loads(config_file.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc}") from exc
        values.update(document.get("accord", {}))
        if "oslo_policy" in document:
            values.update(_oslo_policy(document["oslo_policy"], config_file))
        if "keystone_authtoken" in document:
            values["keystone_authtoken"] = _keystone_authtoken(document["keystone_authtoken"])
    for f in fields(Settings):
        key = f"ACCORD_{f.name.upper()}"
        if key in env and f.name != "keystone_authtoken":
            values[f.name] = env[key]
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(Settings)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
    cast_values = {
        k: v if k == "keystone_authtoken" else _cast(k, v, getattr(settings, k)) for k, v in values.items()
    }
    settings = replace(settings, **cast_values)  # type: ignore[arg-type]
    if settings.scheduler_policy not in ("pack", "spread"):
        raise ConfigError(
            f"ACCORD_SCHEDULER_POLICY must be pack or spread, got {settings.scheduler_policy!r}"
        )
    if settings.auth not in AUTH_MODES:
        raise ConfigError(f"ACCORD_AUTH must be one of {', '.join(AUTH_MODES)}, got {settings.auth!r}")
    if settings.auth == "keystone":
        _check_keystone(settings.keystone_authtoken)
    if bool(settings.ssl_certfile) != bool(settings.ssl_keyfile):
        raise ConfigError("ACCORD_SSL_CERTFILE and ACCORD_SSL_KEYFILE go together: give both or neither")
    return settings
