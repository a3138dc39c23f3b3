"""Tiered consultations: requests, rosters, routing, atomic claim, SLA escalation, outcomes."""

from __future__ import annotations

from flask import Flask

from consult import models as models  # registers the tables


def init_app(app: Flask) -> None:
    """Register the consult API, pages, signed documents, CLI, seams and the SLA sweep."""
    # Imported when the app is built, not with the package: importing the package for its
    # tables (Alembic, the model registry) must not load its web layer.
    from consult import api as api  # its routes join the /api/v1 blueprint
    from consult import cli, home, queue_views, signing, tasks, views
    from consult import reassign_api as reassign_api  # command staff's reassignment
    from consult.access import patients_of_my_consults
    from consult.demo import seed_rosters
    from hub import hooks
    from hub.jobs import add_periodic

    signing.init_app(app)  # signed outcome, e-prescription and referral letter
    app.cli.add_command(cli.sla_group)
    views.init_app(app)
    queue_views.init_app(app)  # the command officer's queue board
    # Specialists see the patients of the consults they answer.
    hooks.patient_grants.register(patients_of_my_consults)
    hooks.demo_seeders.register(seed_rosters)
    home.register()  # the health worker's home panels
    add_periodic(app, "consult-sla-sweep", tasks.sla_sweep.name, tasks.SLA_SWEEP_EVERY)
