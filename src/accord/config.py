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
    # Candidate queries use an in-process index of the provider tree, rebuilt when this old (s);
    # 0 reads the store on every query instead.
    scheduler_index_max_age_s: float = 5.0
    scheduler_policy: str = "pack"  # pack | spread: how ties between equal candidates break
    operation_lease_s: float = 120.0  # an agent that claimed work and went quiet this long loses it
    program_wait_s: float = 30.0  # PATCH …/program answers 200 if done by then, else 202
    reconcile_interval_s: float = 10.0  # 0 disables the background reconcilers

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'accord.sqlite'}"

    @property
    def tokens_file(self) -> Path:
        return self.data_dir / "tokens.json"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "images"


def _cast(name: str, raw: object, current: object) -> object:
    if isinstance(current, bool):
        return str(raw).lower() in ("1", "true", "yes", "on")
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


def load_settings(
    env: Mapping[str, str] | None = None, config_file: Path | None = None, **overrides: Any
) -> Settings:
    """Defaults, then the TOML file, then `ACCORD_*` variables, then explicit overrides."""
    env = os.environ if env is None else env
    settings = Settings()
    values: dict[str, object] = {}
    if config_file is not None:
        try:
            values.update(tomllib.loads(config_file.read_text()).get("accord", {}))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc}") from exc
    for f in fields(Settings):
        key = f"ACCORD_{f.name.upper()}"
        if key in env:
            values[f.name] = env[key]
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(Settings)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
    cast_values = {k: _cast(k, v, getattr(settings, k)) for k, v in values.items()}
    settings = replace(settings, **cast_values)  # type: ignore[arg-type]
    if settings.scheduler_policy not in ("pack", "spread"):
        raise ConfigError(
            f"ACCORD_SCHEDULER_POLICY must be pack or spread, got {settings.scheduler_policy!r}"
        )
    if settings.auth not in AUTH_MODES:
        raise ConfigError(f"ACCORD_AUTH must be one of {', '.join(AUTH_MODES)}, got {settings.auth!r}")
    return settings
