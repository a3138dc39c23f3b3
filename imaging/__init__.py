"""DICOM node, study index, forwarding to the central archive, image links, retention."""

from __future__ import annotations

from flask import Flask

from imaging import api as api  # its routes join the /api/v1 blueprint
from imaging import archive as archive  # registers its outbox handler (central deletions)
from imaging import models as models  # registers the tables


def init_app(app: Flask) -> None:
    from consult.views import PageSection, register_section
    from hub.demo import register_demo_seeder
    from hub.jobs import add_periodic
    from hub.services.patients import register_merge_hook
    from imaging import cli, consults, reports, services, tasks, views
    from imaging.demo import seed_titles

    views.init_app(app)
    reports.init_app(app)  # the radiologist's signed report
    register_section(PageSection("imaging/_consult_section.html", consults.page_section))
    app.cli.add_command(cli.dicom_group)
    register_merge_hook(services.move_studies)
    register_demo_seeder(seed_titles)
    if app.config["HUB_SETTINGS"].imaging.central_pacs is not None:
        add_periodic(app, "imaging-forward", tasks.forward_drain.name, tasks.FORWARD_EVERY)
    add_periodic(app, "imaging-retention", tasks.retention_sweep.name, tasks.RETENTION_EVERY)
