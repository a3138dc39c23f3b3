"""The hub's PKI: CA, clinicians' certificates, CRL and time-stamp authority (see ca.py)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    # Imported when the app is built: the CLI and views import the signing modules, which the
    # documents package imports through this package.
    from hub.pki import cli, views

    views.init_app(app)
    cli.init_app(app)
