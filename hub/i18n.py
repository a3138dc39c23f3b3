"""Flask-Babel: the reader's language from their choice, their account or Accept-Language."""

from __future__ import annotations

from flask import Flask, current_app, request, session
from flask_babel import Babel
from flask_login import current_user

from frontend import TRANSLATIONS_DIR
from hub.config import SUPPORTED_LOCALES

RTL_LOCALES = frozenset({"fa"})
LANGUAGE_NAMES = {"en": "English", "fa": "فارسی", "ru": "Русский", "tr": "Türkçe", "zh": "中文"}
babel = Babel()


def select_locale() -> str:
    chosen = session.get("locale")
    if chosen in SUPPORTED_LOCALES:
        return str(chosen)
    if (
        current_user
        and current_user.is_authenticated
        and current_user.user.locale in SUPPORTED_LOCALES
    ):
        return str(current_user.user.locale)
    best = request.accept_languages.best_match(SUPPORTED_LOCALES)
    return best or current_app.config["HUB_SETTINGS"].default_locale


def text_direction(locale: str) -> str:
    return "rtl" if locale in RTL_LOCALES else "ltr"


def init_app(app: Flask) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS_DIR)
    babel.init_app(app, locale_selector=select_locale)

    @app.context_processor
    def _i18n_context() -> dict[str, object]:
        locale = select_locale()
        return {
            "current_locale": locale,
            "text_direction": text_direction(locale),
            "languages": LANGUAGE_NAMES,
        }
