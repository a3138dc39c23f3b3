"""The production web server: gunicorn with one threaded worker per process.

Socket.IO in threading mode needs all of a client's requests on one process, so a process runs
one gunicorn worker with many threads; scale out with more processes behind a sticky balancer,
sharing events through HUB_REDIS_URL.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


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


def serve_web(app: Flask, host: str, port: int, threads: int) -> None:
    _Gunicorn(
        app,
        {
            "bind": f"{host}:{port}",
            "workers": 1,
            "worker_class": "gthread",
            "threads": threads,
            # Socket.IO long-polls and websockets stay open; don't kill their worker.
            "timeout": 0,
            "graceful_timeout": 10,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "proc_name": "hub-web",
        },
    ).run()
