"""The production web server: gunicorn, threaded workers.

Socket.IO in threading mode needs all of a client's requests on one process. A websocket is one
connection, so it always is; long-polling is a series of requests, which only a sticky balancer
keeps on one process. The hub's pages connect by websocket first (polling only where websockets
are blocked), so one machine can run several worker processes on one port (HUB_WEB_WORKERS),
sharing events through HUB_REDIS_URL; across machines, put a sticky balancer in front.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from hub import db, realtime


class _Gunicorn(BaseApplication):
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def serve_web(app: Flask, host: str, port: int, threads: int, workers: int = 1) -> None:
    _Gunicorn(
        app,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "post_fork": _after_fork(app),
            "worker_class": "gthread",
            "threads": threads,
            # Each open websocket holds a connection: gunicorn's default cap of 1,000 per
            # worker would leave every further request (an API call, a page) waiting once
            # 1,000 dashboards are connected, whatever the thread count.
            "worker_connections": max(1000, threads),
            # Socket.IO long-polls and websockets stay open; don't kill their worker.
            "timeout": 0,
            "graceful_timeout": 10,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "proc_name": "hub-web",
        },
    ).run()


def _after_fork(app: Flask) -> Callable[[Any, Any], None]:
    """What a worker process must not share with the parent it was forked from."""

    def post_fork(_server: Any, _worker: Any) -> None:
        # The database connections the parent opened before forking (migrations, demo data
        # at start): two processes on one connection corrupt its protocol. Dropped from the
        # child's pool without closing them, which would end the parent's.
        engine = db.get_db(app).engine
        if engine is not None:
            engine.dispose(close=False)
        realtime.after_fork()

    return post_fork
