"""``hub media``: the recording media worker (its own process; run several to scale out)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.command("media")
@click.option(
    "--hub-url",
    default=None,
    help="The hub web server the worker signals through (default HUB_BASE_URL).",
)
@with_appcontext
def media_command(hub_url: str | None) -> None:
    """Record consented video sessions (aiortc peer) until stopped."""
    import asyncio

    from hub.cli import _real_app
    from video.media import MediaWorker, setup_logging

    setup_logging()
    asyncio.run(MediaWorker(_real_app(), hub_url).run())
