"""Settings parsing fails loudly, naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config import ConfigError, load_settings, parse_duration


def base(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HUB_DATA_DIR": str(tmp_path), **extra}


def test_embedded_defaults(tmp_path: Path) -> None:
    s = load_settings(base(tmp_path))
    assert s.database_url == f"sqlite:///{tmp_path / 'hub.sqlite'}"
    assert s.broker_url.startswith("sqla+sqlite:///")
    assert s.http_port == 5000 and s.redis_url is None
    assert s.secret_key_generated and len(s.secret_key) >= 32
    # The generated secret is kept, so a restart keeps sessions valid.
    assert load_settings(base(tmp_path)).secret_key == s.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert s.log_level == "INFO"
    assert load_settings(base(tmp_path, HUB_LOG_LEVEL="warning")).log_level == "WARNING"
    assert s.web_workers == 1
    several = base(tmp_path, HUB_WEB_WORKERS="2", HUB_REDIS_URL="redis://127.0.0.1:6379/15")
    assert load_settings(several).web_workers == 2


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("HUB_HTTP_PORT", "eighty", "HUB_HTTP_PORT='eighty' is not an integer"),
        ("HUB_HTTP_PORT", "70000", "at most 65535"),
        ("HUB_DATABASE_URL", "mysql://x/y", "HUB_DATABASE_URL: scheme 'mysql'"),
        ("HUB_DATABASE_URL", "not a url", "is not a URL"),
        ("HUB_REDIS_URL", "http://localhost", "HUB_REDIS_URL"),
        ("HUB_SESSION_COOKIE_SECURE", "maybe", "is not a boolean"),
        ("HUB_DEFAULT_LOCALE", "de", "HUB_DEFAULT_LOCALE='de' must be one of"),
        ("HUB_SECRET_KEY", "short", "at least 32 characters"),
        ("HUB_DEMO_PASSWORD", "abc", "HUB_DEMO_PASSWORD must be at least 8"),
        ("HUB_LOG_LEVEL", "chatty", "HUB_LOG_LEVEL='CHATTY' must be one of"),
        ("HUB_WEB_WORKERS", "0", "HUB_WEB_WORKERS=0 must be at least 1"),
        # Without the message queue an event would not reach pages of the other processes.
        ("HUB_WEB_WORKERS", "2", "HUB_WEB_WORKERS above 1 needs HUB_REDIS_URL"),
    ],
)
def test_bad_values_name_the_variable(tmp_path: Path, name: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(")):
        load_settings(base(tmp_path, **{name: value}))


def test_secret_from_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("s" * 40 + "\n")
    s = load_settings(base(tmp_path, HUB_SECRET_KEY_FILE=str(secret_file)))
    assert s.secret_key == "s" * 40 and not s.secret_key_generated
    with pytest.raises(ConfigError, match="both set"):
        load_settings(base(tmp_path, HUB_SECRET_KEY_FILE=str(secret_file), HUB_SECRET_KEY="x" * 40))
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(base(tmp_path, HUB_SECRET_KEY_FILE=str(tmp_path / "missing")))


def test_durations() -> None:
    assert parse_duration("90") == 90
    assert parse_duration("30m") == 1800
    assert parse_duration("1h") == 3600
    assert parse_duration("7d") == 7 * 86400
    for bad in ("", "h", "-1h", "1.5h", "0", "1w"):
        with pytest.raises(ValueError):
            parse_duration(bad)
