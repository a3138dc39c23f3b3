"""The open-source OHIF viewer (npm @ohif/app, fetched by ``make pytest``: scripts/fetch-ohif)
pointed at the hub's DICOMweb root lists a study and opens it, as an integrator would deploy
it: OHIF's files and the hub's /dicomweb behind one origin (a small gateway in this test that
adds the integrator's bearer token), OHIF configured with its stock DICOMweb data source."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser
from sqlalchemy import select

from hub import db
from hub.models import Facility
from hub.national_id import make_iranian
from tests.imaging.support import ingest
from tests.support.apps import make_app
from tests.support.browser import screenshot, wait_until
from tests.support.live import demo_env, live_demo_hub, run_hub_command
from tests.support.processes import HubProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]
OHIF = Path(__file__).resolve().parents[2] / "var" / "test-peers" / "ohif-3.13.2" / "dist"
TIMEOUT_MS = 60_000
# The stock DICOMweb data source of OHIF, pointed at the gateway's /dicomweb (same origin).
CONFIG = """window.config = {
  routerBasename: null, extensions: [], modes: [], showStudyList: true,
  maxNumberOfWebWorkers: 1, showWarningMessageForCrossOrigin: false,
  showCPUFallbackMessage: false, strictZSpacingForVolumeViewport: true,
  defaultDataSourceName: "hub",
  dataSources: [{
    namespace: "@ohif/extension-default.dataSourcesModule.dicomweb",
    sourceName: "hub",
    configuration: {
      friendlyName: "Telemedicine hub", name: "hub",
      wadoUriRoot: ROOT, qidoRoot: ROOT, wadoRoot: ROOT,
      qidoSupportsIncludeField: true, supportsReject: false, imageRendering: "wadors",
      thumbnailRendering: "wadors", enableStudyLazyLoad: true, supportsFuzzyMatching: false,
      supportsWildcard: true, omitQuotationForMultipartRequest: true,
      bulkDataURI: { enabled: true },
    },
  }],
};
"""
# The middle of the first viewport's canvas is not black: an image is drawn.
DRAWN = """() => {
  const canvas = document.querySelector(".cornerstone-canvas, [data-viewport-uid] canvas");
  if (!canvas || !canvas.width) { return false; }
  const probe = document.createElement("canvas");
  probe.width = canvas.width; probe.height = canvas.height;
  const context = probe.getContext("2d");
  context.drawImage(canvas, 0, 0);
  const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 0; i < data.length; i += 4 * 97) {
    if (data[i] + data[i + 1] + data[i + 2] > 30) { return true; }
  }
  return false;
}"""


def _gateway(hub_url: str, token: str) -> ThreadingHTTPServer:
    """OHIF's files, with its configuration, and /dicomweb forwarded to the hub."""

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(OHIF), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path.startswith("/dicomweb/"):
                self._forward()
            elif self.path == "/app-config.js":
                body = CONFIG.replace("ROOT", json.dumps("/dicomweb")).encode()
                self._answer(200, "application/javascript", body)
            elif (OHIF / self.path.split("?")[0].lstrip("/")).is_file():
                super().do_GET()
            else:  # the single-page application's routes (/viewer, ...)
                self._answer(200, "text/html", (OHIF / "index.html").read_bytes())

        def _answer(self, status: int, kind: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _forward(self) -> None:
            headers = {"Authorization": f"Bearer {token}"}
            if self.headers.get("Accept"):
                headers["Accept"] = self.headers["Accept"]
            with requests.get(hub_url + self.path, headers=headers, stream=True, timeout=60) as up:
                self.send_response(up.status_code)
                for name in ("Content-Type", "Content-Length", "Content-Encoding", "Warning"):
                    if up.headers.get(name):
                        self.send_header(name, up.headers[name])
                self.end_headers()
                # As sent: not decoded, so Content-Length stays true.
                shutil.copyfileobj(up.raw, self.wfile)

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture(scope="module")
def ohif(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, HubProcess]]:
    if not (OHIF / "index.html").is_file():
        pytest.skip("OHIF is not fetched (make pytest fetches it: scripts/fetch-ohif)")
    directory = tmp_path_factory.mktemp("ohif-hub")
    with live_demo_hub(directory) as proc:
        data = directory / "data"
        app = make_app(f"sqlite:///{data / 'hub.sqlite'}", data)
        with app.app_context(), db.transaction() as sess:
            facility = sess.scalar(select(Facility).where(Facility.code == "HP-A"))
            assert facility is not None
            sess.expunge(facility)
        study = ingest(app, facility, make_iranian("001000001"), images=4, size=128, phantom=True)
        env = demo_env(directory, int(proc.port or 0))
        token = run_hub_command("token", "create", "chw.demo", env=env).strip().splitlines()[-1]
        server = _gateway(proc.base_url, token)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}", study.study_uid, proc
        finally:
            server.shutdown()
            server.server_close()


def test_ohif_lists_and_opens_a_study_from_the_hub(
    ohif: tuple[str, str, HubProcess], browser: Browser
) -> None:
    base, study_uid, _hub = ohif
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/dicomweb/" in r.url else None)
    failed: list[str] = []
    page.on(
        "response",
        lambda r: (
            failed.append(f"{r.status} {r.url}")
            if "/dicomweb/" in r.url and r.status >= 400
            else None
        ),
    )
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        # The study list: OHIF's QIDO-RS search finds the study (its patient's name as OHIF
        # writes a DICOM person name, and its modality and description).
        page.goto(base + "/")
        page.get_by_text("TEST, PATIENT").first.wait_for()
        assert page.get_by_text("CHEST").count() >= 1
        screenshot(page, "ohif-1-study-list")
        assert any("/dicomweb/studies?" in u for u in asked), asked
        # The viewer: series metadata and frames by WADO-RS, the first image drawn.
        page.goto(f"{base}/viewer?StudyInstanceUIDs={study_uid}")
        wait_until(page, DRAWN, TIMEOUT_MS)
        screenshot(page, "ohif-2-viewer")
        assert any("/metadata" in u for u in asked), asked
        assert any("/frames/" in u for u in asked), asked
        assert failed == [] and errors == []
    finally:
        context.close()
