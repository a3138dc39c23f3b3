"""Templates, static assets and translations shared by every page; no Python logic lives here."""

from pathlib import Path

FRONTEND_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = FRONTEND_DIR / "templates"
STATIC_DIR = FRONTEND_DIR / "static"
TRANSLATIONS_DIR = FRONTEND_DIR / "translations"
