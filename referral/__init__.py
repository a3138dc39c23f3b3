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
    from hub.jobs import add_periodic
    from referral import api as api  # its routes join the /api/v1 blueprint
    from referral import cli, command, consult_section, demo, patient_page, services, tasks, views
    from referral.access import patients_of_my_referrals

    views.init_app(app)
    patient_page.init_app(app)  # the patient's booking page (a link, no account)
    command.init_app(app)  # the command centre's transfers
    app.cli.add_command(cli.referral_group)
    add_periodic(app, "referral-reminders", tasks.send_reminders.name, tasks.REMINDERS_EVERY)
    # "Refer" on the consult page when its outcome's disposition is refer.
    hooks.consult_page_sections.register(
        consult_section.TEMPLATE,
        hooks.PageSection(consult_section.TEMPLATE, consult_section.context),
    )
    hooks.document_signed.register(services.on_document_signed)
    # The receiving side sees the patients referred to it.
    hooks.patient_grants.register(patients_of_my_referrals)
    hooks.demo_seeders.register(demo.seed_referrals)
