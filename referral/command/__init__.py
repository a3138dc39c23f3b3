"""The regional command centre's own work: urgent patient transfers (SEEDS 001: the command
headquarters prioritises essential transfers). Top floor: it reads other packages only through
their services (consult's queue board and reassignment live in consult)."""

from __future__ import annotations

from flask import Flask

from referral.command import models as models  # registers the tables
from referral.command import monitoring_models as monitoring_models  # and these


def init_app(app: Flask) -> None:
    # Imported when the app is built: the tables alone must not load the web layer.
    import referral.command.api  # noqa: F401  (its routes join the /api/v1 blueprint)
    import referral.command.views as views
    from hub import hooks
    from hub.jobs import add_periodic
    from referral.command import alerts, board_views, cli, demo, progress_views, tasks
    from referral.command import monitoring_api as monitoring_api  # progress reports, alerts
    from referral.command import thread_api as thread_api  # threads, assisting physicians

    board_views.init_app(app)  # the command centre's board and its assisting physicians
    # The assisting physician sees the transfers they are consulted on on their home page.
    hooks.home_panels.register("assisting_transfers", board_views.home_panel)
    hooks.demo_seeders.register(demo.seed_assisting_physicians)
    views.init_app(app)
    progress_views.init_app(app)  # progress reports and the alerts panel
    app.cli.add_command(cli.command_group)
    # SLA breaches and escalations that reach command staff stay until someone takes them.
    hooks.command_alerted.register(alerts.on_command_alerted)
    add_periodic(
        app, "command-progress-snapshot", tasks.progress_snapshot.name, tasks.SNAPSHOT_EVERY
    )
