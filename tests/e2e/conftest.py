"""Browser tests share these: a live demo hub per module and one headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, sync_playwright

from tests.support.live import CHROMIUM_ARGS, browser_env, live_demo_hub
from tests.support.processes import HubProcess


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A hub web process with demo data of its own (one per test module)."""
    with live_demo_hub(tmp_path_factory.mktemp("live-hub")) as proc:
        yield proc


@pytest.fixture(scope="module")
def browser(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    home = tmp_path_factory.mktemp("chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS, env=browser_env(home)
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    """Browser contexts a test opens (``tests.support.browser.open_page``), closed after it."""
    made: list[BrowserContext] = []
    yield made
    for context in made:
        context.close()
