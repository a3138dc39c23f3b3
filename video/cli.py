"""``hub media``: the recording media worker (its own process; run several to scale out), and
``hub media test-peer``: a participant that sends synthetic media."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click
from flask.cli import AppGroup, with_appcontext

from hub.cli import _real_app


@click.group("media", cls=AppGroup, invoke_without_command=True)
@click.option(
    "--hub-url",
    default=None,
    help="The hub web server the worker signals through (default HUB_BASE_URL).",
)
@click.pass_context
@with_appcontext
def media_group(ctx: click.Context, hub_url: str | None) -> None:
    """Record consented video sessions (aiortc peer) until stopped."""
    if ctx.invoked_subcommand is not None:
        return
    # aiortc is heavy; loaded only when the media worker starts, never by the web process.
    from video.media import MediaWorker, setup_logging

    setup_logging()
    asyncio.run(MediaWorker(_real_app(), hub_url).run())


@media_group.command("test-peer")
@click.option("--session", "session_id", type=click.IntRange(1), required=True)
@click.option(
    "--token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="A file holding the participant's personal token (`hub token create`).",
)
@click.option("--seconds", type=click.FloatRange(1, 86400), default=30.0, show_default=True)
@click.option("--hub-url", default=None, help="Default HUB_BASE_URL.")
@with_appcontext
def test_peer_command(
    session_id: int, token_file: Path, seconds: float, hub_url: str | None
) -> None:
    """Join a session as a participant and send synthetic 640x480 video and a tone."""
    # aiortc is heavy; loaded only when a synthetic peer starts, never by the web process.
    from video.media import allow_loopback_candidates, setup_logging
    from video.synthetic import run_test_peer

    setup_logging()
    app = _real_app()
    settings = app.config["HUB_SETTINGS"]
    if settings.video.media_allow_loopback:
        allow_loopback_candidates()
    token = token_file.read_text(encoding="utf-8").strip()
    result = asyncio.run(
        run_test_peer(app, hub_url or settings.base_url, session_id, token, seconds)
    )
    click.echo(json.dumps(result))
