"""The regional command centre's own work: urgent patient transfers (SEEDS 001: the command
headquarters prioritises essential transfers). Top floor: it reads other packages only through
their services (consult's queue board and reassignment live in consult)."""

from __future__ import annotations

from flask import Flask

from referral.command import models as models  # registers the tables


def init_app(app: Flask) -> None:
    # Imported when the app is built: the tables alone must not load the web layer.
    import referral.command.api  # noqa: F401  (its routes join the /api/v1 blueprint)
    import referral.command.views as views

    views.init_app(app)
