"""Languages: every supported locale renders the pages in its own words, Persian right-to-left;
the choice comes from the switcher, the account or Accept-Language; catalogues are complete."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from frontend import TRANSLATIONS_DIR
from hub import db
from hub.config import SUPPORTED_LOCALES
from hub.models import Role, User
from hub.services.users import create_user
from tests.support import factories as f
from tests.support.personas import World

# The "Log in" heading and the "Log out" button in each language.
LOG_IN = {"en": "Log in", "fa": "ورود", "ru": "Войти", "tr": "Giriş yap", "zh": "登录"}
LOG_OUT = {
    "en": "Log out",
    "fa": "خروج",
    "ru": "Выйти",
    "tr": "Çıkış yap",  # noqa: RUF001
    "zh": "退出",
}
HTML_TAG = re.compile(r'<html lang="([^"]+)" dir="([^"]+)">')
FORM_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def html_attrs(body: str) -> tuple[str, str]:
    match = HTML_TAG.search(body)
    assert match, "no <html lang dir> tag"
    return match.group(1), match.group(2)


def test_the_tables_cover_every_supported_locale() -> None:
    assert set(LOG_IN) == set(LOG_OUT) == set(SUPPORTED_LOCALES)


@pytest.mark.parametrize("code", SUPPORTED_LOCALES)
def test_login_page_in_every_language(client: FlaskClient, code: str) -> None:
    switched = client.get(f"/lang/{code}?next=/login")
    assert switched.status_code == 302
    assert switched.headers["Location"] == "/login"
    body = client.get("/login").get_data(as_text=True)
    assert html_attrs(body) == (code, "rtl" if code == "fa" else "ltr")
    assert f"<h1>{LOG_IN[code]}</h1>" in body
    assert f'<button type="submit">{LOG_IN[code]}</button>' in body
    if code != "en":
        assert "<h1>Log in</h1>" not in body


def test_switcher_links_every_language(client: FlaskClient) -> None:
    body = client.get("/login").get_data(as_text=True)
    for code in SUPPORTED_LOCALES:
        assert f'hreflang="{code}"' in body
        assert f"/lang/{code}?next=" in body


def test_unknown_language_keeps_the_current_one(client: FlaskClient) -> None:
    client.get("/lang/ru")
    assert client.get("/lang/xx?next=/login").status_code == 302
    assert html_attrs(client.get("/login").get_data(as_text=True)) == ("ru", "ltr")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fa", ("fa", "rtl")),
        ("fa-IR,fa;q=0.9,en;q=0.5", ("fa", "rtl")),
        ("zh-CN,zh;q=0.9", ("zh", "ltr")),
        ("de-DE,tr;q=0.5", ("tr", "ltr")),
        ("de", ("en", "ltr")),
    ],
)
def test_accept_language_without_a_choice(
    client: FlaskClient, header: str, expected: tuple[str, str]
) -> None:
    body = client.get("/login", headers={"Accept-Language": header}).get_data(as_text=True)
    assert html_attrs(body) == expected
    lang = expected[0]
    assert f"<h1>{LOG_IN[lang]}</h1>" in body


def test_a_choice_beats_accept_language(client: FlaskClient) -> None:
    client.get("/lang/tr")
    body = client.get("/login", headers={"Accept-Language": "fa"}).get_data(as_text=True)
    assert html_attrs(body) == ("tr", "ltr")


def test_the_accounts_language_applies_after_login(app: Flask, world: World) -> None:
    client = app.test_client()
    with app.app_context(), db.transaction() as sess:
        user = create_user(
            sess,
            f"loc{secrets.token_hex(5)}",
            full_name="Locale Person",
            role=Role.CHW,
            facility_code=world.facility_a.code,
            password=f.PASSWORD,
        )
        sess.execute(update(User).where(User.id == user.id).values(locale="fa"))
        username = user.username
    page = client.get("/login")
    match = FORM_CSRF.search(page.get_data(as_text=True))
    assert match
    resp = client.post(
        "/login", data={"csrf_token": match.group(1), "username": username, "password": f.PASSWORD}
    )
    assert resp.status_code == 302
    home = client.get("/home").get_data(as_text=True)
    assert html_attrs(home) == ("fa", "rtl")
    assert LOG_OUT["fa"] in home
    assert "Locale Person" in home


def test_refusal_message_is_translated(client: FlaskClient) -> None:
    client.get("/lang/ru")
    page = client.get("/login")
    match = FORM_CSRF.search(page.get_data(as_text=True))
    assert match
    resp = client.post(
        "/login",
        data={"csrf_token": match.group(1), "username": "nobody-x", "password": "wrong-password"},
    )
    assert resp.status_code == 401
    assert "Неверное имя пользователя или пароль" in resp.get_data(as_text=True)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The messages the code uses now, extracted afresh (a committed template can be stale)."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    root = Path(TRANSLATIONS_DIR).parents[1]
    args = ["extract", "-F", str(root / "babel.cfg"), "-k", "_l", "-o", str(pot), str(root)]
    CommandLineInterface().run(["pybabel", "-q", *args])
    return pot


@pytest.mark.parametrize("code", [c for c in SUPPORTED_LOCALES if c != "en"])
def test_catalogue_translates_every_message(code: str, extracted: Path) -> None:
    root = Path(TRANSLATIONS_DIR)
    with extracted.open("rb") as handle:
        template = read_po(handle)
    with (root / code / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = read_po(handle, locale=code)
    problems = []
    for message in template:
        if not message.id:
            continue
        translated = catalogue.get(message.id, context=message.context)
        if translated is None or not translated.string:
            problems.append(f"untranslated: {message.id!r}")
        elif translated.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        elif (
            isinstance(message.id, str)
            and isinstance(translated.string, str)
            and set(PLACEHOLDER.findall(message.id)) != set(PLACEHOLDER.findall(translated.string))
        ):
            problems.append(f"placeholders differ: {message.id!r}")
    assert problems == []
