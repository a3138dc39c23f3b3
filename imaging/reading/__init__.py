"""Teleradiology: reading requests routed to radiologists, the radiologist's report (written,
signed, received), critical results with closed-loop acknowledgement."""

from __future__ import annotations

from flask import Flask

from imaging.reading import models as models  # registers the tables
from imaging.reading.qc import models as qc_models  # noqa: F401 (registers the QC tables)


def init_app(app: Flask) -> None:
    """Register the report's document kind, the reading seams and the critical-result sweep."""
    # Imported when the app is built: importing the package for its tables must not load the
    # document stack.
    from hub import hooks
    from hub.documents import registry
    from hub.jobs import add_periodic
    from imaging.models import AUTO_READING_TOPIC
    from imaging.reading import archive_copy, cli, contacts, critical, qc, requests, tasks, views
    from imaging.reading.demo import seed_reading
    from imaging.reading.services import AMENDMENT, REPORT

    registry.register(REPORT)
    registry.register(AMENDMENT)
    hooks.outbox_handlers.register(archive_copy.TOPIC, archive_copy.deliver)
    hooks.outbox_handlers.register(contacts.TOPIC, contacts.deliver)
    hooks.outbox_handlers.register(AUTO_READING_TOPIC, requests.submit_on_arrival)
    hooks.imaging_report_signed.register(requests.complete_on_signed_report)
    hooks.home_panels.register("critical_results", critical.home_panel)
    hooks.page_banners.register("critical_results", critical.banner)
    hooks.demo_seeders.register(seed_reading)
    views.init_app(app)
    qc.init_app(app)  # quality control: follow-up, peer review, image quality, quarterly
    app.cli.add_command(cli.critical_group)
    app.cli.add_command(cli.reading_group)
    add_periodic(app, "reading-critical-sweep", tasks.critical_sweep.name, tasks.SWEEP_EVERY)
