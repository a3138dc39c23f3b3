"""DICOM node, study index, forwarding to the central archive, image links, retention."""

from __future__ import annotations

from flask import Flask

from imaging import models as models  # registers the tables
from imaging.devices import models as device_models  # noqa: F401 (registers the device tables)
from imaging.dose import models as dose_models  # noqa: F401 (registers the dose tables)
from imaging.reading import models as reading_models  # noqa: F401 (registers the reading tables)


def init_app(app: Flask) -> None:
    """Register the imaging API, pages, report, CLI, seams and periodic jobs."""
    # Imported when the app is built, not with the package: importing the package for its
    # tables (Alembic, the model registry) must not load its web layer and DICOM stack.
    from hub import hooks
    from hub.jobs import add_periodic
    from imaging import api as api  # its routes join the /api/v1 blueprint
    from imaging import cli, consults, dicomweb, reading, services, tasks, views
    from imaging.archive import deletions
    from imaging.demo import seed_titles
    from imaging.devices import api as devices_api  # noqa: F401 (its routes join /api/v1)
    from imaging.devices import views as devices_views
    from imaging.devices.demo import seed_devices
    from imaging.dose import api as dose_api  # noqa: F401 (its routes join /api/v1)
    from imaging.dose import node as dose_node
    from imaging.dose import sending as dose_sending
    from imaging.dose import views as dose_views
    from imaging.reading import api as reading_api  # noqa: F401 (its routes join /api/v1)

    views.init_app(app)
    dose_views.init_app(app)  # dose history, facility dashboard, reference levels
    devices_views.init_app(app)  # device registry, exemptions, operating logs, uptime
    reading.init_app(app)  # the radiologist's signed report
    dicomweb.init_app(app)  # /dicomweb: QIDO-RS, WADO-RS, STOW-RS
    app.cli.add_command(cli.dicom_group)
    hooks.consult_page_sections.register(
        "imaging/_consult_section.html",
        hooks.PageSection("imaging/_consult_section.html", consults.page_section),
    )
    hooks.patient_merged.register(services.move_studies)
    hooks.outbox_handlers.register(deletions.TOPIC, deletions.deliver)  # central deletions
    hooks.outbox_handlers.register(dose_node.TOPIC, dose_sending.deliver)  # national dose node
    hooks.demo_seeders.register(seed_titles)
    hooks.demo_seeders.register(seed_devices)
    if app.config["HUB_SETTINGS"].imaging.central_pacs is not None:
        add_periodic(app, "imaging-forward", tasks.forward_drain.name, tasks.FORWARD_EVERY)
    add_periodic(app, "imaging-retention", tasks.retention_sweep.name, tasks.RETENTION_EVERY)
