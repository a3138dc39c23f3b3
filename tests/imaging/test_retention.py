"""Retention: images 5 years, reports 10, from the study date; legal hold; dry run; audit."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub import db
from hub.models import AuditEvent
from imaging.models import Instance, InstanceKind, Study
from imaging.retention import run
from tests.imaging.support import ingest, storage
from tests.support import factories as f
from tests.support.personas import World

STUDY_DATE = date(2001, 3, 10)  # older than anything else the tests store


def _state(app: Flask, uid: str) -> dict[InstanceKind, tuple[int, int, list[str]]]:
    """Per kind: (instances kept, instances deleted, stored paths)."""
    with app.app_context(), db.transaction() as sess:
        rows = sess.execute(
            select(Instance.kind, Instance.deleted_at, Instance.path)
            .join(Study, Study.id == Instance.study_id)
            .where(Study.study_instance_uid == uid)
        ).all()
    out: dict[InstanceKind, tuple[int, int, list[str]]] = {}
    for kind, deleted_at, path in rows:
        kept, gone, paths = out.get(kind, (0, 0, []))
        if deleted_at is None:
            out[kind] = (kept + 1, gone, [*paths, path])
        else:
            out[kind] = (kept, gone + 1, paths)
    return out


def _run(app: Flask, today: date, dry_run: bool = False):  # type: ignore[no-untyped-def]
    factory = db.get_db(app).session_factory
    assert factory is not None
    return run(
        factory,
        storage(app),
        app.config["HUB_SETTINGS"].imaging,
        today=today,
        dry_run=dry_run,
        sweep=False,
    )


def test_images_go_after_five_years_reports_after_ten_holds_freeze(
    app: Flask, client: FlaskClient, world: World
) -> None:
    with app.app_context(), db.transaction() as sess:
        patient = f.patient(sess, world.facility_a)
        national_id = patient.national_id
    held = ingest(app, world.facility_a, national_id, images=2, reports=1, study_date=STUDY_DATE)
    free = ingest(app, world.facility_a, national_id, images=3, reports=1, study_date=STUDY_DATE)
    root = Path(app.config["HUB_SETTINGS"].imaging.storage_dir)
    hold = client.put(
        f"/api/v1/studies/{held.study_uid}/legal-hold",
        json={"hold": True, "reason": "court order 12/2024"},
        headers=world["admin_a"].headers,
    )
    assert hold.status_code == 200 and hold.get_json()["legal_hold"] is True
    assert (
        client.put(
            f"/api/v1/studies/{held.study_uid}/legal-hold",
            json={"hold": True},
            headers=world["admin_a"].headers,
        ).status_code
        == 422
    )
    assert (
        client.put(
            f"/api/v1/studies/{held.study_uid}/legal-hold",
            json={"hold": False},
            headers=world["hw_a"].headers,
        ).status_code
        == 403
    )

    # One day before five years: nothing of these studies is due.
    early = _run(app, date(2006, 3, 9))
    assert not {e.study_instance_uid for e in early.expired} & {held.study_uid, free.study_uid}

    # Dry run at five years: the free study's images are listed, nothing is deleted.
    listed = _run(app, date(2006, 3, 10), dry_run=True)
    mine = [e for e in listed.expired if e.study_instance_uid == free.study_uid]
    assert [(e.kind, e.instances) for e in mine] == [(InstanceKind.IMAGE, 3)]
    assert all(e.study_instance_uid != held.study_uid for e in listed.expired)
    assert _state(app, free.study_uid)[InstanceKind.IMAGE][:2] == (3, 0)

    done = _run(app, date(2006, 3, 10))
    assert any(e.study_instance_uid == free.study_uid for e in done.expired)
    state = _state(app, free.study_uid)
    assert state[InstanceKind.IMAGE][:2] == (0, 3)
    assert state[InstanceKind.REPORT][:2] == (1, 0)  # never a report before 10 years
    assert all((root / p).exists() for p in state[InstanceKind.REPORT][2])
    assert _state(app, held.study_uid)[InstanceKind.IMAGE][:2] == (2, 0)
    page = client.get(f"/api/v1/studies/{free.study_uid}", headers=world["hw_a"].headers)
    assert page.get_json()["instances"] == 1 and page.get_json()["instances_deleted"] == 3

    # Ten years: the report goes too; the held study still keeps everything.
    _run(app, date(2011, 3, 10))
    assert _state(app, free.study_uid)[InstanceKind.REPORT][:2] == (0, 1)
    assert _state(app, held.study_uid)[InstanceKind.REPORT][:2] == (1, 0)
    released = client.put(
        f"/api/v1/studies/{held.study_uid}/legal-hold",
        json={"hold": False},
        headers=world["admin_a"].headers,
    )
    assert released.status_code == 200
    _run(app, date(2011, 3, 10))
    assert _state(app, held.study_uid) == {
        InstanceKind.IMAGE: (0, 2, []),
        InstanceKind.REPORT: (0, 1, []),
    }
    with app.app_context(), db.transaction() as sess:
        actions = sess.scalars(
            select(AuditEvent.action)
            .join(Study, AuditEvent.object_id == Study.id.cast(AuditEvent.object_id.type))
            .where(
                Study.study_instance_uid.in_([held.study_uid, free.study_uid]),
                AuditEvent.action.like("imaging:study:%_deleted"),
            )
        ).all()
    assert (
        sorted(actions)
        == ["imaging:study:images_deleted"] * 2 + ["imaging:study:reports_deleted"] * 2
    )


def test_retention_command_dry_run(app: Flask, world: World) -> None:
    with app.app_context(), db.transaction() as sess:
        patient = f.patient(sess, world.facility_b)
        national_id = patient.national_id
    study = ingest(app, world.facility_b, national_id, images=1, study_date=date(2000, 1, 5))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["dicom", "retention", "--dry-run", "--today", "2005-06-01"])
    assert result.exit_code == 0, result.output
    assert f"would delete      1 image  {study.study_uid}" in result.output
    assert _state(app, study.study_uid)[InstanceKind.IMAGE][:2] == (1, 0)
