"""Tariffs, coverage, billing records (claims), insurer exports and reconciliation."""

from __future__ import annotations

from flask import Flask

from insurance import models as models  # registers the tables


def init_app(app: Flask) -> None:
    """Register the insurance API, pages, CLI commands, the billing listeners and demo data."""
    # Imported when the app is built, not with the package: importing the package for its
    # tables (Alembic, the model registry) must not load its web layer.
    from hub import hooks
    from insurance import api as api  # its routes join the /api/v1 blueprint
    from insurance import cli, demo, services, views
    from insurance import tariff_views as tariff_views  # its pages join the insurance blueprint

    views.init_app(app)
    app.cli.add_command(cli.insurance_group)
    hooks.document_signed.register(services.on_document_signed)
    hooks.imaging_report_signed.register(services.on_report_signed)
    hooks.outbox_handlers.register(services.CLAIM_TOPIC, services.deliver_claim)
    hooks.demo_seeders.register(demo.seed_insurance)
