"""Signed documents shared by every domain: registry, rendering, PAdES signing, verification."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from hub.documents import views

    views.init_app(app)
