"""DICOM TLS: with HUB_DICOM_TLS_CERT/KEY the node speaks TLS only; dcmtk verifies its
certificate and echoes and stores over it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.imaging.conftest import Titles
from tests.imaging.dicomdata import write_study
from tests.imaging.peers import dcmtk, running_node

pytestmark = pytest.mark.slow


def _certificate(directory: Path) -> tuple[Path, Path]:
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=hub-dicom-test",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return key, cert


def test_tls_echo_and_store(database_url: str, titles: Titles, tmp_path: Path) -> None:
    key, cert = _certificate(tmp_path)
    with running_node(
        database_url, tmp_path / "tls", HUB_DICOM_TLS_CERT=str(cert), HUB_DICOM_TLS_KEY=str(key)
    ) as node:
        tls = ["+tla", "+cf", str(cert)]
        ok = dcmtk("echoscu", *tls, "-aet", titles.a, "-aec", "HUB", "127.0.0.1", str(node.port))
        assert ok.returncode == 0, ok.stdout + ok.stderr
        _uid, paths = write_study(tmp_path / "s", patient_id="TLS-1", count=2, size=16)
        stored = dcmtk(
            "storescu",
            *tls,
            "-aet",
            titles.a,
            "-aec",
            "HUB",
            "127.0.0.1",
            str(node.port),
            *map(str, paths),
        )
        assert stored.returncode == 0, stored.stdout + stored.stderr
        # Without TLS there is no association, and the node keeps serving.
        plain = dcmtk(
            "echoscu",
            "-to",
            "10",
            "-aet",
            titles.a,
            "-aec",
            "HUB",
            "127.0.0.1",
            str(node.port),
            timeout=60,
        )
        assert plain.returncode != 0
        again = dcmtk("echoscu", *tls, "-aet", titles.a, "-aec", "HUB", "127.0.0.1", str(node.port))
        assert again.returncode == 0, again.stdout + again.stderr
