"""A live hub web server with the demo data (SQLite, in-memory broker), and the settings for a
headless Chromium that writes nothing outside a temporary directory. For browser tests.

Processes are started and stopped with :mod:`tests.support.processes`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page

from tests.support.processes import PYTHON, ROOT, HubProcess, free_port, hub_env, running_hub

DEMO_PASSWORD = "e2e-demo-password"
SECRET_KEY = "e2e-secret-key-that-is-long-enough-for-the-hub-server"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
COMMAND_TIMEOUT = 180.0


def demo_env(directory: Path, port: int, **extra: str) -> dict[str, str]:
    """Settings for a self-contained hub under ``directory`` serving on ``port``, plus ``extra``
    (e.g. ``HUB_CENTRAL_PACS``)."""
    data = directory / "data"
    return hub_env(
        HUB_HTTP_HOST="127.0.0.1",
        HUB_HTTP_PORT=str(port),
        HUB_DATA_DIR=str(data),
        HUB_DATABASE_URL=f"sqlite:///{data / 'hub.sqlite'}",
        HUB_BROKER_URL="memory://",
        HUB_RESULT_BACKEND="cache+memory://",
        HUB_SECRET_KEY=SECRET_KEY,
        HUB_DEMO_PASSWORD=DEMO_PASSWORD,
        HUB_WEB_THREADS="8",
        **extra,
    )


def run_hub_command(*args: str, env: dict[str, str]) -> str:
    """Run ``python -m hub *args`` to completion; its output, or a failure that shows it."""
    return _run([PYTHON, "-m", "hub", *args], f"hub {' '.join(args)}", env)


def run_in_hub(script: str, env: dict[str, str]) -> str:
    """Run a Python ``script`` with a live hub's settings (e.g. a periodic job with the clock
    moved on, which no command offers); its output, or a failure that shows it."""
    return _run([PYTHON, "-c", script], "python -c", env)


def _run(argv: list[str], name: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        argv,
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"`{name}` failed ({result.returncode}):\n" + output[-4000:]
    return output


@contextmanager
def live_demo_hub(directory: Path, **extra: str) -> Iterator[HubProcess]:
    """``hub db upgrade``, ``hub seed-demo``, then ``hub web`` until the block ends."""
    port = free_port()
    env = demo_env(directory, port, **extra)
    run_hub_command("db", "upgrade", env=env)
    seeded = run_hub_command("seed-demo", env=env)
    assert "chw.demo" in seeded, seeded
    with running_hub("web", env=env, log_dir=directory / "logs", port=port) as proc:
        yield proc


def browser_env(directory: Path) -> dict[str, str | float | bool]:
    """The browser's environment: its configuration, cache and runtime files under ``directory``."""
    env: dict[str, str | float | bool] = dict(os.environ)
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR"):
        path = directory / name.lower()
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        env[name] = str(path)
    return env


def log_in(page: Page, base_url: str, username: str) -> None:
    """Log a demo account in through the login form; the home page is open afterwards."""
    page.goto(base_url + "/login")
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.click("form[action^='/login'] button[type=submit]")
    page.wait_for_url(base_url + "/home")
