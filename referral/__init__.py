"""Referrals level 1 → 2/3 with the closed-loop back-referral, clinic calendars and
appointments, virtual clinics."""

from __future__ import annotations

from flask import Flask

from referral import models as models  # registers the tables


def init_app(app: Flask) -> None:
    """Register the referral API, pages, the signed-letter listener, grants and demo data."""
    # Imported when the app is built, not with the package: importing the package for its
    # tables (Alembic, the model registry) must not load its web layer.
    from hub import hooks
    from referral import api as api  # its routes join the /api/v1 blueprint
    from referral import command, demo, services, views
    from referral.access import patients_of_my_referrals

    views.init_app(app)
    command.init_app(app)  # the command centre's transfers
    hooks.document_signed.register(services.on_document_signed)
    # The receiving side sees the patients referred to it.
    hooks.patient_grants.register(patients_of_my_referrals)
    hooks.demo_seeders.register(demo.seed_referrals)
