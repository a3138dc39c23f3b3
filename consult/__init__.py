"""Tiered consultations: requests, rosters, routing, atomic claim, SLA escalation, outcomes."""

from __future__ import annotations

from flask import Flask

from consult import api as api  # its routes join the /api/v1 blueprint
from consult import models as models  # registers the tables


def init_app(app: Flask) -> None:
    from consult import cli, signing, tasks, views
    from consult.access import patients_of_my_consults
    from consult.demo import seed_rosters
    from hub.demo import register_demo_seeder
    from hub.jobs import add_periodic
    from hub.permissions import register_patient_grant

    signing.init_app(app)  # signed outcome and e-prescription
    app.cli.add_command(cli.sla_group)
    views.init_app(app)
    register_patient_grant(patients_of_my_consults)
    register_demo_seeder(seed_rosters)
    add_periodic(app, "consult-sla-sweep", tasks.sla_sweep.name, tasks.SLA_SWEEP_EVERY)
