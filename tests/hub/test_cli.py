"""The ``hub`` command as the acceptance checks and administrators use it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hub.migrate import ROOT
from tests.support.apps import TEST_SECRET


@pytest.fixture
def hub(fresh_database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {
        "HUB_DATABASE_URL": fresh_database_url,
        "HUB_DATA_DIR": str(tmp_path),
        "HUB_SECRET_KEY": TEST_SECRET,
        "HUB_BROKER_URL": "memory://",
        "HUB_RESULT_BACKEND": "cache+memory://",
        "HUB_DEMO_PASSWORD": "demo-password-1",
        "PATH": "/usr/bin:/bin",
    }

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "hub", *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check:
            assert done.returncode == 0, done.stderr
        return done

    run("seed-demo")
    return run


def test_seed_demo_is_idempotent_and_prints_logins(hub) -> None:  # type: ignore[no-untyped-def]
    again = hub("seed-demo")
    for name in (
        "chw.demo",
        "gp.demo",
        "facility.demo",
        "specialist.demo",
        "specialist2.demo",
        "radiologist.demo",
        "command.demo",
        "qa.demo",
        "admin.demo",
    ):
        assert name in again.stdout
    assert "demo-password-1" in again.stdout


def test_token_create_prints_only_the_token(hub) -> None:  # type: ignore[no-untyped-def]
    done = hub("token", "create", "chw.demo", "--ttl", "1h")
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("hubpat_") and " " not in lines[0]


def test_token_create_refuses_unknown_user_and_bad_ttl(hub) -> None:  # type: ignore[no-untyped-def]
    unknown = hub("token", "create", "nobody", check=False)
    assert unknown.returncode != 0 and "nobody" in unknown.stderr
    bad_ttl = hub("token", "create", "chw.demo", "--ttl", "soon", check=False)
    assert bad_ttl.returncode != 0 and "ttl" in bad_ttl.stderr.lower()


def test_token_create_refuses_a_ttl_beyond_the_maximum(hub) -> None:  # type: ignore[no-untyped-def]
    done = hub("token", "create", "chw.demo", "--ttl", "99999999999d", check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "OverflowError" not in done.stderr
    assert "at most 365d (HUB_TOKEN_MAX_TTL_DAYS)" in done.stderr
    assert done.stdout == ""


def test_token_list_and_revoke(hub) -> None:  # type: ignore[no-untyped-def]
    token = hub("token", "create", "chw.demo").stdout.strip()
    [line] = hub("token", "list", "chw.demo").stdout.splitlines()
    token_id, name, _created, _expires, state = line.split("\t")
    assert (name, state) == ("cli", "active") and token not in line
    assert hub("token", "revoke", token_id).stdout.strip() == f"revoked token {token_id}"
    assert hub("token", "list", "chw.demo").stdout.split("\t")[4].strip() == "revoked"


def test_oauth_client_json(hub) -> None:  # type: ignore[no-untyped-def]
    done = hub("oauth-client", "create", "--insurer", "DEMO", "--json")
    payload = json.loads(done.stdout)
    assert set(payload) == {"client_id", "client_secret"}
    assert len(payload["client_secret"]) >= 32
    unknown = hub("oauth-client", "create", "--insurer", "NOPE", "--json", check=False)
    assert unknown.returncode != 0 and "NOPE" in unknown.stderr


def test_user_disable_enable_and_oauth_client_revoke(hub) -> None:  # type: ignore[no-untyped-def]
    assert hub("user", "disable", "gp.demo").stdout.strip() == "disabled gp.demo"
    refused = hub("token", "create", "gp.demo", check=False)
    assert refused.returncode != 0 and "No active user" in refused.stderr
    assert hub("user", "enable", "gp.demo").stdout.strip() == "enabled gp.demo"
    assert hub("token", "create", "gp.demo").stdout.startswith("hubpat_")
    unknown = hub("user", "disable", "nobody.at.all", check=False)
    assert unknown.returncode != 0 and "nobody.at.all" in unknown.stderr
    client_id = json.loads(hub("oauth-client", "create", "--insurer", "DEMO", "--json").stdout)[
        "client_id"
    ]
    assert hub("oauth-client", "revoke", client_id).stdout.strip() == f"revoked client {client_id}"
    [line] = [r for r in hub("oauth-client", "list").stdout.splitlines() if r.startswith(client_id)]
    assert line.endswith("\trevoked")
    assert hub("oauth-client", "revoke", "no-such-client", check=False).returncode != 0


def test_user_create(hub) -> None:  # type: ignore[no-untyped-def]
    done = hub("user", "create", "nurse.one", "--role", "nurse", "--facility", "HP-A")
    assert "created nurse.one with password" in done.stdout
    spec = hub(
        "user",
        "create",
        "cardio.one",
        "--role",
        "specialist",
        "--facility",
        "HOSP-3A",
        "--specialty",
        "cardiology",
        "--password",
        "a-long-password-1",
    )
    assert "created cardio.one" in spec.stdout
    dup = hub("user", "create", "nurse.one", "--role", "nurse", "--facility", "HP-A", check=False)
    assert dup.returncode != 0 and "already exists" in dup.stderr
    no_scope = hub("user", "create", "nurse.two", "--role", "nurse", check=False)
    assert no_scope.returncode != 0 and "--facility" in no_scope.stderr
    bad_specialty = hub(
        "user",
        "create",
        "x.y",
        "--role",
        "specialist",
        "--facility",
        "HOSP-3A",
        "--specialty",
        "astrology",
        check=False,
    )
    assert bad_specialty.returncode != 0 and "astrology" in bad_specialty.stderr


def test_db_heads_reports_a_single_head(hub) -> None:  # type: ignore[no-untyped-def]
    done = hub("db", "heads")
    assert len(done.stdout.split()) == 1


def test_bad_setting_fails_loudly(tmp_path: Path) -> None:
    env = {"HUB_DATA_DIR": str(tmp_path), "HUB_HTTP_PORT": "eighty", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "hub", "db", "heads"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "HUB_HTTP_PORT" in done.stderr
