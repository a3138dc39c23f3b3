"""Teleradiology quality control (SEEDS 004): follow-up against the final diagnosis and the
concordance rate, weekly senior peer review (RADPEER 2016), image-quality grades fed back to
the sending facility, and the quarterly high-risk monitoring report."""

from __future__ import annotations

from flask import Flask

from imaging.reading.qc import models as models  # registers the tables


def init_app(app: Flask) -> None:
    """Register the API, pages, CLI, quarterly document kind, home panels and periodic jobs."""
    from hub import hooks
    from hub.documents import registry
    from hub.jobs import add_periodic
    from imaging.reading.qc import api as api  # its routes join /api/v1
    from imaging.reading.qc import cli, tasks, views
    from imaging.reading.qc.quarterly import QUARTERLY

    registry.register(QUARTERLY)
    views.init_app(app)
    app.cli.add_command(cli.qc_group)
    hooks.home_panels.register("peer_reviews", views.reviewer_panel)
    hooks.home_panels.register("overdue_peer_reviews", views.overdue_panel)
    add_periodic(app, "reading-qc-weekly-sample", tasks.weekly_sample.name, tasks.SAMPLE_EVERY)
    add_periodic(app, "reading-qc-overdue", tasks.overdue_reviews.name, tasks.OVERDUE_EVERY)
