"""The acceptance flow of issue 4 on the real `hub serve` (embedded defaults): the demo's
DEMOPOST echoes, stores and queries with dcmtk; the API finds the study by national id, shows it
forwarded to the central archive (Orthanc, by the Celery worker) and makes a link that opens."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import requests

from hub.national_id import make_iranian
from tests.imaging.dicomdata import write_study
from tests.imaging.peers import dcmtk, running_orthanc, wait_port
from tests.support.processes import PYTHON, ROOT, free_port, hub_env, start_hub

pytestmark = pytest.mark.slow
PASSWORD = "acceptance-demo-password"


def test_make_run_interface(tmp_path: Path) -> None:
    with running_orthanc(tmp_path / "orthanc") as orthanc:
        http, dicom = free_port(), free_port()
        env = hub_env(
            HUB_DATA_DIR=str(tmp_path / "data"),
            HUB_HTTP_PORT=str(http),
            HUB_DICOM_PORT=str(dicom),
            HUB_CENTRAL_PACS=orthanc.peer,
            HUB_DEMO_PASSWORD=PASSWORD,
        )
        hub = start_hub("serve", env=env, log_dir=tmp_path / "logs", port=http)
        try:
            hub.wait_http("/healthz", 180)
            wait_port(dicom, 180, hub.popen, hub.log_path)
            base = ["-aet", "DEMOPOST", "-aec", "HUB", "127.0.0.1", str(dicom)]
            echo = dcmtk("echoscu", *base)
            assert echo.returncode == 0, echo.stdout + echo.stderr + hub.output()[-3000:]
            national_id = make_iranian("001000001")  # the demo's patient at HP-A
            study_uid, paths = write_study(
                tmp_path / "study", patient_id=national_id, count=5, size=64
            )
            store = dcmtk("storescu", *base[:4], "127.0.0.1", str(dicom), *map(str, paths))
            assert store.returncode == 0, store.stdout + store.stderr
            found = dcmtk(
                "findscu",
                "-v",
                "-S",
                "-k",
                "QueryRetrieveLevel=STUDY",
                "-k",
                f"PatientID={national_id}",
                "-k",
                "StudyInstanceUID",
                *base,
            )
            assert study_uid in found.stdout + found.stderr

            token = (
                subprocess.run(
                    [PYTHON, "-m", "hub", "token", "create", "chw.demo"],
                    env=env,
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    timeout=180,
                    check=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            auth = {"Authorization": f"Bearer {token}"}
            listed = requests.get(
                f"{hub.base_url}/api/v1/studies",
                params={"patient_national_id": national_id},
                headers=auth,
                timeout=30,
            )
            assert listed.status_code == 200, listed.text
            assert [s["study_instance_uid"] for s in listed.json()["items"]] == [study_uid]
            deadline = time.monotonic() + 120
            while True:
                study = requests.get(
                    f"{hub.base_url}/api/v1/studies/{study_uid}", headers=auth, timeout=30
                ).json()
                if study["forwarding"]["status"] == "forwarded" or time.monotonic() > deadline:
                    break
                time.sleep(1)
            assert study["instances"] == 5
            assert study["forwarding"]["status"] == "forwarded", study["forwarding"]
            assert len(orthanc.instances_of(study_uid)) == 5
            link = requests.post(
                f"{hub.base_url}/api/v1/studies/{study_uid}/links",
                json={},
                headers=auth,
                timeout=30,
            )
            assert link.status_code == 201, link.text
            assert set(link.json()) == {"id", "url", "expires_at"}
            page = requests.get(link.json()["url"], timeout=30)
            assert page.status_code == 200 and "dicom-viewer.js" in page.text
        finally:
            hub.cleanup()
