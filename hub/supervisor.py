"""``hub serve``: prepare the database, then run web, worker and beat (plus the DICOM node and the
media worker) as child processes and stop them all on Ctrl-C / SIGTERM, or when any of them dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import FrameType

import click
from flask import Flask

from hub import db
from hub.demo import print_logins, seed_demo
from hub.migrate import upgrade
from hub.pki import demo as demo_pki

COMPONENTS = ("web", "worker", "beat")
# gunicorn alone takes ~4 s to stop; under load the whole set has needed 16 s.
STOP_TIMEOUT = 30.0


def prepare(app: Flask, *, migrate: bool, demo: bool) -> dict[str, str]:
    """Migrate and seed the demo; returns environment the children need (the demo CA's)."""
    settings = app.config["HUB_SETTINGS"]
    env: dict[str, str] = {}
    if migrate:
        upgrade(settings.database_url)
    if demo:
        with db.transaction(app) as sess:
            created = seed_demo(sess, settings.demo_password)
        print_logins(created, settings.demo_password)
        sys.stdout.flush()  # the logins must show before the children's output

        env.update(demo_pki.ensure(settings))
    return env


def run_all(app: Flask, *, migrate: bool = True, demo: bool = True) -> int:
    settings = app.config["HUB_SETTINGS"]
    prepared_env = prepare(app, migrate=migrate, demo=demo)
    stopping = False

    def _stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    # Installed before any child starts, so a signal in between cannot orphan them.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    env = dict(os.environ)
    # Children must share the generated secret and data directory of this process.
    env["HUB_DATA_DIR"] = str(settings.data_dir)
    env.update(prepared_env)
    children: dict[str, subprocess.Popen[bytes]] = {}
    # The DICOM node (`hub dicom`) runs beside them unless HUB_DICOM_ENABLED=false.
    components = COMPONENTS + (("dicom",) if settings.imaging.enabled else ())
    # The recording media worker (`hub media`) likewise, unless HUB_MEDIA_ENABLED=false.
    components += ("media",) if settings.video.media_enabled else ()
    for name in components:
        children[name] = subprocess.Popen([sys.executable, "-m", "hub", name], env=env)
    click.echo(
        f"hub is serving http://{settings.http_host}:{settings.http_port} (Ctrl-C stops it)",
        err=True,
    )
    status = 0
    while not stopping:
        for name, child in children.items():
            code = child.poll()
            if code is not None:
                click.echo(f"hub: {name} exited with status {code}; stopping", err=True)
                status = code or 1
                stopping = True
                break
        time.sleep(0.2)
    _terminate(children)
    return status


def _terminate(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for name, child in children.items():
        remaining = max(0.1, deadline - time.monotonic())
        try:
            child.wait(remaining)
        except subprocess.TimeoutExpired:
            click.echo(f"hub: {name} did not stop in time; killing it", err=True)
            child.kill()
            child.wait()
