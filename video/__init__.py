"""Video consultations: sessions, signalling, TURN credentials, media worker, recordings."""

from __future__ import annotations

from flask import Flask

from video import api as api  # its routes join the /api/v1 blueprint
from video import models as models  # registers the tables


def init_app(app: Flask) -> None:
    """Register the video blueprints, Socket.IO handlers and CLI commands."""
    # Imported when the app is built, not with the package: importing the package for its
    # tables (Alembic, the model registry) must not load its web layer.
    from hub.jobs import add_periodic
    from video import cli, signalling, tasks, views

    views.init_app(app)
    signalling.init_app()
    app.cli.add_command(cli.media_group)
    add_periodic(app, "video-retention", tasks.retention_sweep.name, tasks.RETENTION_EVERY)
