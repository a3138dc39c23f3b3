"""PACS proxy mode (SEEDS 002): the same software as a facility's local segment keeps its own
archive and index and forwards to the central hub's node, urgent studies first."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from flask import Flask
from pydicom import dcmread
from sqlalchemy import select

from hub import db
from imaging.archive import forwarding
from imaging.models import AeKind, CallingAe, ForwardItem, Instance, Study
from tests.imaging.dicomdata import write_study
from tests.imaging.peers import Node, dcmtk, running_node
from tests.support.apps import make_app
from tests.support.personas import World
from tests.support.processes import PYTHON, ROOT

pytestmark = pytest.mark.slow
PROXY_AE = "PROXYSEGA"


def _hub(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [PYTHON, "-m", "hub", *args],
        env=env,
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_proxy_keeps_a_local_archive_and_forwards_urgent_first(
    app: Flask, node: Node, world: World, tmp_path: Path
) -> None:
    # The central hub knows the proxy as facility A's PACS proxy.
    with app.app_context(), db.transaction() as sess:
        if sess.scalar(select(CallingAe.id).where(CallingAe.ae_title == PROXY_AE)) is None:
            sess.add(
                CallingAe(
                    ae_title=PROXY_AE, facility_id=world.facility_a.id, kind=AeKind.PACS_PROXY
                )
            )
    central = f"dicom://HUB@127.0.0.1:{node.port}"
    proxy_db = f"sqlite:///{tmp_path / 'proxy.sqlite'}"
    extra = {
        "HUB_CENTRAL_PACS": central,
        "HUB_DICOM_AE_TITLE": PROXY_AE,
        "HUB_DEMO_PASSWORD": "proxy-demo-password",
    }
    with running_node(proxy_db, tmp_path / "proxy", **extra) as proxy:
        _hub(proxy.env, "db", "upgrade")
        _hub(proxy.env, "seed-demo")  # registers DEMOPOST for the proxy's health post HP-A
        routine_uid, routine = write_study(
            tmp_path / "routine", patient_id="PX-1", count=5, size=32
        )
        urgent_uid, urgent = write_study(tmp_path / "urgent", patient_id="PX-2", count=3, size=32)
        for path in urgent:
            ds = dcmread(path)
            ds.StudyPriorityID = "HIGH"
            ds.save_as(path)
        for files in (routine, urgent):  # the urgent study arrives last
            done = dcmtk(
                "storescu",
                "-aet",
                "DEMOPOST",
                "-aec",
                PROXY_AE,
                "127.0.0.1",
                str(proxy.port),
                *map(str, files),
            )
            # The registry is re-read every few seconds: retry once after the seed.
            if done.returncode != 0:
                time.sleep(6)
                done = dcmtk(
                    "storescu",
                    "-aet",
                    "DEMOPOST",
                    "-aec",
                    PROXY_AE,
                    "127.0.0.1",
                    str(proxy.port),
                    *map(str, files),
                )
            assert done.returncode == 0, done.stdout + done.stderr
        proxy_app = make_app(proxy_db, Path(proxy.env["HUB_DATA_DIR"]), **extra)
        app.extensions["celery"].set_default()
        settings = proxy_app.config["HUB_SETTINGS"].imaging
        assert forwarding.drain(proxy_app, settings, budget_seconds=120) == 8
        with proxy_app.app_context(), db.transaction() as sess:
            # The local segment keeps its own archive and index.
            assert (
                sess.scalar(select(Study.id).where(Study.study_instance_uid == routine_uid))
                is not None
            )
            assert sess.scalar(select(ForwardItem.id).where(ForwardItem.sent_at.is_(None))) is None
    with app.app_context(), db.transaction() as sess:
        rows = sess.execute(
            select(Study.study_instance_uid, Study.facility_id, Instance.calling_ae, Instance.id)
            .join(Instance, Instance.study_id == Study.id)
            .where(Study.study_instance_uid.in_([routine_uid, urgent_uid]))
        ).all()
    assert len(rows) == 8
    assert {(r[1], r[2]) for r in rows} == {(world.facility_a.id, PROXY_AE)}
    # The central hub received the urgent study first although it reached the proxy last.
    last_urgent = max(r[3] for r in rows if r[0] == urgent_uid)
    first_routine = min(r[3] for r in rows if r[0] == routine_uid)
    assert last_urgent < first_routine
