"""The hub's PKI: CA, clinicians' certificates, CRL and time-stamp authority (see ca.py)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from hub.pki import cli, views

    views.init_app(app)
    cli.init_app(app)
