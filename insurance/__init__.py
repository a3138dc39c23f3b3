"""Tariffs, coverage, billing records (claims), insurer exports and reconciliation."""

from __future__ import annotations

from flask import Flask

from insurance import api as api  # its routes join the /api/v1 blueprint
from insurance import models as models  # registers the tables


def init_app(app: Flask) -> None:
    """Register the insurance blueprints, CLI commands, the signing hook and demo data."""
    from consult.hooks import register_signed_hook
    from hub.demo import register_demo_seeder
    from imaging.hooks import register_report_signed_hook
    from insurance import cli, demo, services, views

    views.init_app(app)
    app.cli.add_command(cli.insurance_group)
    register_signed_hook(services.on_document_signed)
    register_report_signed_hook(services.on_report_signed)
    register_demo_seeder(demo.seed_insurance)
