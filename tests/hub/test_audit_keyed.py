"""The keyed audit chain against someone who can write the database but holds neither the audit
key nor the checkpoint signer's key: a rewritten event with every later hash recomputed, a
truncated tail with the head moved, a database restored to an earlier state, a forged
checkpoint. Each is found, and ``verify`` says where."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from hub import audit, audit_checkpoints
from hub.auth.principal import SYSTEM
from hub.config import Settings
from hub.db import make_engine
from hub.migrate import ROOT
from hub.models import AuditEvent, AuditHead
from hub.pki import ca
from tests.support import apps
from tests.support.apps import TEST_PKI_PASSPHRASE, TEST_SECRET

KEY = b"k" * 40


@pytest.fixture
def engine(fresh_database_url: str) -> Iterator[Engine]:
    eng = make_engine(fresh_database_url)
    previous = audit.configured_key()
    audit.configure(KEY)
    try:
        yield eng
    finally:
        audit.configure(previous)
        eng.dispose()


@pytest.fixture
def settings(fresh_database_url: str, tmp_path: Path) -> Settings:
    """Settings with a CA of their own, whose TSA key signs the checkpoints."""
    found = apps.test_settings(fresh_database_url, tmp_path / "data", HUB_AUDIT_KEY=KEY.decode())
    ca.initialise(found.pki, found.base_url, name="Audit Test Hub", country="IR")
    return found


def _append(engine: Engine, n: int) -> None:
    for i in range(n):
        with Session(engine) as sess, sess.begin():
            audit.record(sess, SYSTEM, "hub:patient:viewed", object_type="patient", object_id=i)


def _verify(engine: Engine, settings: Settings | None = None, key: bytes | None = KEY):
    anchors = audit_checkpoints.load(settings) if settings is not None else None
    with Session(engine) as sess:
        return audit.verify(sess, key=key, anchors=anchors)


def _unguard(conn: object, engine: Engine) -> None:
    """What an attacker with direct database access does before editing history."""
    if engine.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change"))  # type: ignore[attr-defined]
    else:
        conn.execute(text("DROP TRIGGER audit_event_no_update"))  # type: ignore[attr-defined]
        conn.execute(text("DROP TRIGGER audit_event_no_delete"))  # type: ignore[attr-defined]


def _rehash_from(engine: Engine, seq: int) -> None:
    """Recompute every hash from ``seq`` on and point the head at the new tip: all a hash
    chain asks for, done with the public algorithm and no key."""
    with Session(engine) as sess, sess.begin():
        before = sess.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq - 1))
        prev = before or audit.GENESIS
        rows = sess.scalars(
            select(AuditEvent).where(AuditEvent.seq >= seq).order_by(AuditEvent.seq)
        ).all()
        for ev in rows:
            ev.prev_hash = prev
            ev.hash = audit.digest_of(ev, prev)
            prev = ev.hash
        head = sess.get_one(AuditHead, 1)
        head.seq, head.hash = rows[-1].seq, prev


def test_every_event_and_the_head_carry_a_mac(engine: Engine) -> None:
    _append(engine, 12)
    result = _verify(engine)
    assert result.ok and result.checked == 12 and result.keyed == 12
    with engine.connect() as conn:
        macs = conn.execute(text("SELECT hash, mac FROM audit_event ORDER BY seq")).all()
        head = conn.execute(text("SELECT seq, hash, mac FROM audit_head")).one()
    assert all(mac == audit.event_mac(KEY, digest) for digest, mac in macs)
    assert head.mac == audit.head_mac(KEY, head.seq, head.hash)
    # The wrong key is caught at the first event.
    wrong = _verify(engine, key=b"x" * 40)
    assert not wrong.ok and wrong.first_bad_seq == 1 and "MAC" in (wrong.reason or "")


def test_a_rewritten_event_with_every_later_hash_recomputed_is_found(engine: Engine) -> None:
    _append(engine, 10)
    with engine.begin() as conn:
        _unguard(conn, engine)
        conn.execute(text("UPDATE audit_event SET actor_id = 'mallory' WHERE seq = 4"))
    _rehash_from(engine, 4)
    # The hash chain alone no longer sees it: every link and hash is consistent again.
    assert _verify(engine, key=None).ok
    result = _verify(engine)
    assert not result.ok and result.first_bad_seq == 4
    assert "rewritten without the audit key" in (result.reason or "")
    # Dropping the MACs of the rewritten events does not help either.
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET mac = NULL WHERE seq >= 4"))
    result = _verify(engine)
    assert not result.ok and result.first_bad_seq == 4 and "no MAC" in (result.reason or "")


def test_a_truncated_tail_with_the_head_moved_is_found(engine: Engine) -> None:
    _append(engine, 10)
    with engine.begin() as conn:
        _unguard(conn, engine)
        conn.execute(text("DELETE FROM audit_event WHERE seq > 7"))
        tip = conn.execute(text("SELECT hash FROM audit_event WHERE seq = 7")).scalar_one()
        conn.execute(text("UPDATE audit_head SET seq = 7, hash = :h"), {"h": tip})
    assert _verify(engine, key=None).ok  # what `verify` accepted before the chain was keyed
    result = _verify(engine)
    assert not result.ok and result.first_bad_seq == 8
    assert "head was moved" in (result.reason or "")


def test_a_database_restored_to_an_earlier_state_is_found_by_a_checkpoint(
    engine: Engine, settings: Settings
) -> None:
    _append(engine, 6)
    with engine.connect() as conn:
        old_head = conn.execute(text("SELECT seq, hash, mac FROM audit_head")).one()
    _append(engine, 4)
    with Session(engine) as sess:
        written = audit_checkpoints.write(sess, settings)
        assert written is not None and written.name.startswith("000000000000010")
        assert audit_checkpoints.write(sess, settings) is None  # nothing appended since
    assert _verify(engine, settings).ok
    # Back to the state after event 6, head row and all: every MAC there is genuine.
    with engine.begin() as conn:
        _unguard(conn, engine)
        conn.execute(text("DELETE FROM audit_event WHERE seq > 6"))
        conn.execute(
            text("UPDATE audit_head SET seq = :s, hash = :h, mac = :m"),
            {"s": old_head.seq, "h": old_head.hash, "m": old_head.mac},
        )
    assert _verify(engine).ok  # the key alone cannot tell
    result = _verify(engine, settings)
    assert not result.ok and result.first_bad_seq == 7
    assert "events after 6 were deleted" in (result.reason or "")
    assert written.name in (result.reason or "")


def test_a_chain_rewritten_from_scratch_departs_from_its_checkpoint(
    engine: Engine, settings: Settings
) -> None:
    _append(engine, 5)
    with Session(engine) as sess:
        audit_checkpoints.write(sess, settings)
    with engine.begin() as conn:
        _unguard(conn, engine)
        conn.execute(text("UPDATE audit_event SET object_id = 'x', mac = NULL WHERE seq = 2"))
        conn.execute(text("UPDATE audit_event SET mac = NULL"))
        conn.execute(text("UPDATE audit_head SET mac = NULL"))
    _rehash_from(engine, 1)
    result = _verify(engine, settings)
    assert not result.ok and result.first_bad_seq == 5
    assert "differs from checkpoint" in (result.reason or "")


def test_a_forged_checkpoint_is_refused(engine: Engine, settings: Settings) -> None:
    _append(engine, 3)
    with Session(engine) as sess:
        path = audit_checkpoints.write(sess, settings)
    assert path is not None
    body = json.loads(path.read_text())
    body["statement"]["hash"] = hashlib.sha256(b"other").hexdigest()
    path.write_text(json.dumps(body))
    with pytest.raises(audit_checkpoints.CheckpointError, match="not signed by this hub"):
        audit_checkpoints.load(settings)


def _cli(database_url: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HUB_DATABASE_URL": database_url,
        "HUB_SECRET_KEY": TEST_SECRET,
        "HUB_DATA_DIR": str(data_dir),
        "HUB_AUDIT_KEY": KEY.decode(),
        "HUB_PKI_PASSPHRASE": TEST_PKI_PASSPHRASE,
    }
    return subprocess.run(
        [sys.executable, "-m", "hub", "audit", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_checkpoints_and_says_where_the_break_is(
    engine: Engine, fresh_database_url: str, settings: Settings
) -> None:
    _append(engine, 5)
    written = _cli(fresh_database_url, settings.data_dir, "checkpoint")
    assert written.returncode == 0 and "checkpoint written" in written.stdout, written.stderr
    ok = _cli(fresh_database_url, settings.data_dir, "verify")
    assert ok.returncode == 0, ok.stderr
    assert "5 events, 5 with their MAC checked, 1 checkpoints" in ok.stdout
    with engine.begin() as conn:
        _unguard(conn, engine)
        conn.execute(text("UPDATE audit_event SET actor_id = 'mallory' WHERE seq = 3"))
    _rehash_from(engine, 3)
    bad = _cli(fresh_database_url, settings.data_dir, "verify")
    assert bad.returncode == 1
    assert "BROKEN at event 3" in bad.stderr and "audit key" in bad.stderr
