"""Settings: defaults, environment, TOML file, casting and bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.config import ConfigError, load_settings


def test_defaults_listen_on_cyborg_port_with_sqlite_in_data_dir(tmp_path: Path) -> None:
    settings = load_settings(env={"ACCORD_DATA_DIR": str(tmp_path)})
    assert (settings.address, settings.port, settings.auth) == ("127.0.0.1", 6666, "noauth")
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'accord.sqlite'}"


def test_env_overrides_file_and_is_cast(tmp_path: Path) -> None:
    config = tmp_path / "accord.toml"
    config.write_text('[accord]\nport = 7000\nauth = "token"\nnova_url = "http://nova"\n')
    settings = load_settings(env={"ACCORD_PORT": "7100"}, config_file=config)
    assert settings.port == 7100
    assert settings.auth == "token"
    assert settings.nova_url == "http://nova"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ACCORD_PORT": "high"}, "integer"),
        ({"ACCORD_AUTH": "ldap"}, "ACCORD_AUTH"),
        ({"ACCORD_HOST_LOST_AFTER_S": "soon"}, "number"),
    ],
)
def test_bad_values_are_reported(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env)


def test_unknown_file_keys_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "accord.toml"
    config.write_text("[accord]\nprot = 1\n")
    with pytest.raises(ConfigError, match="prot"):
        load_settings(env={}, config_file=config)
