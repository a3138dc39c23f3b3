"""The hash-chained audit log: appends, verification, and detection of tampering."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from hub import audit
from hub.auth.principal import SYSTEM
from hub.db import make_engine
from hub.migrate import ROOT
from tests.support.apps import TEST_SECRET


def _append(engine: Engine, n: int, action: str = "hub:patient:viewed") -> None:
    from sqlalchemy.orm import Session

    for i in range(n):
        with Session(engine) as sess, sess.begin():
            audit.record(sess, SYSTEM, action, object_type="patient", object_id=i, details={"i": i})


def _verify(engine: Engine) -> audit.VerifyResult:
    from sqlalchemy.orm import Session

    with Session(engine) as sess:
        return audit.verify(sess)


def _disable_guard(engine: Engine) -> str:
    """What an attacker with direct database access would do before editing history."""
    if engine.dialect.name == "postgresql":
        return "ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change"
    return "DROP TRIGGER audit_event_no_update"


@pytest.fixture
def engine(fresh_database_url: str) -> Iterator[Engine]:
    """A database of its own, its events sealed without a key: these tests are about the hash
    chain itself (tests/hub/test_audit_keyed.py covers the key), and an app built earlier in
    the run would otherwise have keyed this process with its own generated key."""
    eng = make_engine(fresh_database_url)
    previous = audit.configured_key()
    audit.configure(None)
    try:
        yield eng
    finally:
        audit.configure(previous)
        eng.dispose()


def test_intact_chain_verifies(engine: Engine) -> None:
    _append(engine, 25)
    result = _verify(engine)
    assert result.ok and result.checked == 25


def test_empty_chain_verifies(engine: Engine) -> None:
    assert _verify(engine).ok


def test_bad_action_name_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="domain:subject:action"):
        _append(engine, 1, action="patient viewed")


def test_update_and_delete_are_refused_by_the_database(engine: Engine) -> None:
    _append(engine, 2)
    with pytest.raises(DBAPIError), engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET action = 'x:y:z' WHERE seq = 1"))
    with pytest.raises(DBAPIError), engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq = 1"))
    assert _verify(engine).ok


def test_altered_row_is_detected(engine: Engine) -> None:
    _append(engine, 10)
    with engine.begin() as conn:
        conn.execute(text(_disable_guard(engine)))
        conn.execute(text("UPDATE audit_event SET object_id = '999' WHERE seq = 4"))
    result = _verify(engine)
    assert not result.ok
    assert result.first_bad_seq == 4
    assert "altered" in (result.reason or "")


def test_deleted_row_is_detected(engine: Engine) -> None:
    _append(engine, 10)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(_disable_guard(engine)))
        else:
            conn.execute(text("DROP TRIGGER audit_event_no_delete"))
        conn.execute(text("DELETE FROM audit_event WHERE seq = 6"))
    result = _verify(engine)
    assert not result.ok and result.first_bad_seq == 6


def test_deleted_tail_is_detected(engine: Engine) -> None:
    _append(engine, 10)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(_disable_guard(engine)))
        else:
            conn.execute(text("DROP TRIGGER audit_event_no_delete"))
        conn.execute(text("DELETE FROM audit_event WHERE seq >= 9"))
    result = _verify(engine)
    assert not result.ok and result.first_bad_seq == 9


def test_concurrent_appends_keep_one_chain(engine: Engine) -> None:
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            _append(engine, 15)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = _verify(engine)
    assert result.ok and result.checked == 60


def _actions(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(text("SELECT action FROM audit_event ORDER BY seq")))


def test_events_of_a_rolled_back_savepoint_or_transaction_are_dropped(engine: Engine) -> None:
    from sqlalchemy.orm import Session

    with Session(engine) as sess:
        audit.record(sess, SYSTEM, "hub:patient:viewed")
        try:
            with sess.begin_nested():
                audit.record(sess, SYSTEM, "hub:patient:updated")
                raise RuntimeError("the change failed")
        except RuntimeError:
            pass
        with sess.begin_nested():
            audit.record(sess, SYSTEM, "hub:patient:merged")
        sess.commit()
        audit.record(sess, SYSTEM, "hub:patient:deleted")
        sess.rollback()
        audit.record(sess, SYSTEM, "hub:consent:given")
        sess.close()  # closed without a commit: dropped as well
    assert _actions(engine) == ["hub:patient:viewed", "hub:patient:merged"]
    assert _verify(engine).ok


def test_an_open_transaction_does_not_hold_up_other_writers(engine: Engine) -> None:
    """The chain is extended at commit, so a long request's events do not block the hub."""
    from sqlalchemy.orm import Session

    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises every writer by design")
    with Session(engine) as slow:
        audit.record(slow, SYSTEM, "hub:patient:viewed", object_type="patient", object_id=1)
        slow.flush()
        done = threading.Event()
        # The other writer would wait here for the slow one's row lock if events took the
        # chain head when recorded rather than at commit.
        worker = threading.Thread(target=lambda: (_append(engine, 3), done.set()))
        worker.start()
        assert done.wait(10), "a writer waited for another transaction's uncommitted events"
        worker.join()
        slow.commit()
    result = _verify(engine)
    assert result.ok and result.checked == 4
    assert _actions(engine)[-1] == "hub:patient:viewed"


def _cli_verify(url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "HUB_DATABASE_URL": url,
        "HUB_DATA_DIR": str(tmp_path),
        "HUB_SECRET_KEY": TEST_SECRET,
        "HUB_BROKER_URL": "memory://",
        "HUB_RESULT_BACKEND": "cache+memory://",
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        [sys.executable, "-m", "hub", "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_cli_exit_codes(engine: Engine, fresh_database_url: str, tmp_path: Path) -> None:
    _append(engine, 5)
    ok = _cli_verify(fresh_database_url, tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "intact: 5 events" in ok.stdout
    with engine.begin() as conn:
        conn.execute(text(_disable_guard(engine)))
        conn.execute(text("UPDATE audit_event SET actor_id = 'mallory' WHERE seq = 3"))
    bad = _cli_verify(fresh_database_url, tmp_path)
    assert bad.returncode == 1
    assert "event 3" in bad.stderr
