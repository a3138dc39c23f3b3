"""Signed documents shared by every domain: registry, rendering, PAdES signing, verification."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # Imported when the app is built: these modules import the package's other modules.
    from hub.documents import registry, views
    from hub.services.consent_forms import CONSENT_FORM

    registry.register(CONSENT_FORM)  # the core's own document kind
    views.init_app(app)
