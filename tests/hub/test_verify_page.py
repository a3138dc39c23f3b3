"""The public verify page speaks the reader's language, also for what the verifier reports."""

from __future__ import annotations

import io

from flask.testing import FlaskClient


def _upload(client: FlaskClient, data: bytes, language: str) -> tuple[int, str]:
    resp = client.post(
        "/verify",
        data={"file": (io.BytesIO(data), "x.pdf")},
        headers={"Accept-Language": language, "Accept": "text/html"},
        content_type="multipart/form-data",
    )
    return resp.status_code, resp.get_data(as_text=True)


def test_not_a_pdf_is_explained_in_persian(client: FlaskClient) -> None:
    status, html = _upload(client, b"hello", "fa")
    assert status == 200
    assert "این پرونده PDF نیست، پس امضایی ندارد." in html
    assert "This file is not a PDF" not in html


def test_unsigned_pdf_is_explained_in_chinese(client: FlaskClient) -> None:
    status, html = _upload(client, b"%PDF-1.7\n%%EOF\n", "zh")
    assert status == 200
    assert "此 PDF 未签名。" in html or "无法读取该 PDF" in html
    assert "This PDF is not signed." not in html
    assert "Not signed" not in html


def test_machines_keep_the_stable_status(client: FlaskClient) -> None:
    resp = client.post(
        "/verify",
        data={"file": (io.BytesIO(b"hello"), "x.pdf")},
        headers={"Accept": "application/json"},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 200
    assert resp.get_json()["status"] == "not_signed"
