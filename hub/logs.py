"""Log lines of the hub's processes: time, level, process and logger on every line.

Only the hub's own packages log at ``HUB_LOG_LEVEL``; libraries stay at WARNING, because some
of them (SQLAlchemy's engine, at INFO) would write statements and their values, which carry
patient data, and the hub's own log lines never do.
"""

from __future__ import annotations

import logging
import sys

APP_PACKAGES = ("hub", "consult", "imaging", "video", "insurance", "referral")
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"


def configure(level: str) -> None:
    """Set up logging for a ``hub`` command (once per process; later calls change the level)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
    for name in APP_PACKAGES:
        logging.getLogger(name).setLevel(level)
