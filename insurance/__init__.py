"""Tariffs, coverage, billing records (claims), insurer exports and reconciliation."""

from __future__ import annotations

from flask import Flask

from insurance import models as models  # registers the tables


def init_app(app: Flask) -> None:
    """Register the insurance blueprints, CLI commands and jobs."""
