"""Error pages speak the reader's language (no Werkzeug English), keep the JSON contract for
machines, and every page title ends with the hub's name."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

TITLE = re.compile(r"<title>(.*?)</title>", re.S)
NOT_FOUND = {
    "en": "Not found",
    "fa": "پیدا نشد",
    "ru": "Не найдено",  # noqa: RUF001
    "tr": "Bulunamadı",  # noqa: RUF001
    "zh": "未找到",
}
HUB_NAME = {"en": "Telemedicine hub", "zh": "远程医疗平台"}


@pytest.mark.parametrize("code", sorted(NOT_FOUND))
def test_not_found_page_in_every_language(client: FlaskClient, code: str) -> None:
    resp = client.get("/no-such-page", headers={"Accept-Language": code})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 404
    assert f"<h1>{NOT_FOUND[code]}</h1>" in html
    # Werkzeug's own English description never reaches a page.
    assert "The requested URL was not found" not in html
    assert "<bdi>404</bdi>" in html


def test_machines_still_get_the_json_error(client: FlaskClient) -> None:
    resp = client.get("/api/v1/no-such-thing", headers={"Accept-Language": "fa"})
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"


def test_method_not_allowed_page_is_translated(client: FlaskClient) -> None:
    resp = client.delete("/login", headers={"Accept-Language": "ru", "Accept": "text/html"})
    assert resp.status_code == 405
    assert "Так нельзя" in resp.get_data(as_text=True)
    assert resp.headers["Allow"]


@pytest.mark.parametrize("code", sorted(HUB_NAME))
def test_titles_end_with_the_hubs_name(client: FlaskClient, code: str) -> None:
    for path, status in (("/login", 200), ("/no-such-page", 404)):
        resp = client.get(path, headers={"Accept-Language": code})
        assert resp.status_code == status
        match = TITLE.search(resp.get_data(as_text=True))
        assert match is not None
        title = match.group(1)
        assert title.endswith(HUB_NAME[code]), title
        assert title.count(HUB_NAME[code]) == 1, title


def test_favicon(client: FlaskClient) -> None:
    resp = client.get("/favicon.ico")
    assert resp.status_code == 301
    icon = client.get(resp.headers["Location"])
    assert icon.status_code == 200
    assert icon.mimetype == "image/svg+xml"
    assert b"<svg" in icon.data
