"""The access and session settings: defaults, and a bad value stops start-up naming it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def base(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HUB_DATA_DIR": str(tmp_path), **extra}


def test_defaults(tmp_path: Path) -> None:
    s = load_settings(base(tmp_path))
    assert (s.login_max_failures, s.login_lockout_seconds) == (5, 900)
    assert s.login_lockout_first_seconds == 60
    assert (s.login_address_max_failures, s.login_address_window_seconds) == (20, 600)
    assert s.trusted_proxies == 0
    assert s.session_idle_minutes == 30
    assert s.token_max_ttl_days == 365
    # A short lockout setting also shortens the first lock.
    assert (
        load_settings(base(tmp_path, HUB_LOGIN_LOCKOUT_SECONDS="30")).login_lockout_first_seconds
        == 30
    )


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"HUB_SESSION_IDLE_MINUTES": "0"}, "HUB_SESSION_IDLE_MINUTES=0 must be at least 1"),
        ({"HUB_SESSION_IDLE_MINUTES": "soon"}, "HUB_SESSION_IDLE_MINUTES='soon' is not an integer"),
        ({"HUB_TOKEN_MAX_TTL_DAYS": "0"}, "HUB_TOKEN_MAX_TTL_DAYS=0 must be at least 1"),
        ({"HUB_TOKEN_MAX_TTL_DAYS": "99999"}, "at most 3650"),
        (
            {"HUB_TOKEN_MAX_TTL_DAYS": "1", "HUB_TOKEN_DEFAULT_TTL": "172800"},
            "HUB_TOKEN_DEFAULT_TTL=172800 is longer than HUB_TOKEN_MAX_TTL_DAYS=1",
        ),
        (
            {"HUB_LOGIN_LOCKOUT_FIRST_SECONDS": "1000"},
            "HUB_LOGIN_LOCKOUT_FIRST_SECONDS=1000 must be at most HUB_LOGIN_LOCKOUT_SECONDS=900",
        ),
        ({"HUB_LOGIN_ADDRESS_MAX_FAILURES": "0"}, "HUB_LOGIN_ADDRESS_MAX_FAILURES=0"),
        ({"HUB_LOGIN_ADDRESS_WINDOW_SECONDS": "-5"}, "HUB_LOGIN_ADDRESS_WINDOW_SECONDS=-5"),
        ({"HUB_TRUSTED_PROXIES": "-1"}, "HUB_TRUSTED_PROXIES=-1 must be at least 0"),
        ({"HUB_TRUSTED_PROXIES": "yes"}, "HUB_TRUSTED_PROXIES='yes' is not an integer"),
    ],
)
def test_bad_values_name_the_variable(tmp_path: Path, env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        load_settings(base(tmp_path, **env))


def test_env_example_documents_each_new_setting() -> None:
    documented = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name in (
        "HUB_LOGIN_LOCKOUT_FIRST_SECONDS",
        "HUB_LOGIN_ADDRESS_MAX_FAILURES",
        "HUB_LOGIN_ADDRESS_WINDOW_SECONDS",
        "HUB_TRUSTED_PROXIES",
        "HUB_SESSION_IDLE_MINUTES",
        "HUB_TOKEN_MAX_TTL_DAYS",
    ):
        assert re.search(rf"^{name}=", documented, re.MULTILINE), name
