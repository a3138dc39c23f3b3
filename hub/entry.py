"""The ``hub`` console command: builds the app, then runs the commands ``hub.cli`` registered.

Apart from ``hub.cli`` so that the commands never import the app factory that registers them.
"""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import FlaskGroup

from hub import create_app, logs
from hub.config import ConfigError


def _create_app() -> Flask:
    app = create_app()
    logs.configure(app.config["HUB_SETTINGS"].log_level)
    return app


def main() -> None:
    group = FlaskGroup(
        create_app=_create_app,
        add_default_commands=False,
        load_dotenv=False,
        set_debug_flag=False,
        help="The national telemedicine hub.",
    )
    try:
        group(prog_name="hub")
    except ConfigError as exc:
        # A bad setting is the operator's to fix: say which, without a traceback.
        click.echo(f"hub: configuration error: {exc}", err=True)
        sys.exit(2)
