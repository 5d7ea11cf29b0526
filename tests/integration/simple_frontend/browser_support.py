"""What the browser tests share: Debian's headless Chromium (`make setup` installs it),
the app served on a free port of 127.0.0.1, and a page that fails its test on a JavaScript
error or on a request that leaves the app (the dashboard works offline)."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 20_000


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make setup` installs Debian's chromium", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@contextmanager
def serving(app) -> Iterator[str]:
    """The WSGI `app` on a free port, in a thread; its base URL."""
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}"
    finally:
        http.shutdown()
        thread.join(timeout=10)


@contextmanager
def offline_page(browser, server: str, height: int = 1000):
    """A page in a context of its own, 1400 px wide; once the test is done, no JavaScript
    error may have happened and no request may have left `server`."""
    context = browser.new_context(viewport={"width": 1400, "height": height}, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    outside = []
    page.on("request", lambda request: None if request.url.startswith(server) else outside.append(request.url))
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert outside == [], "the dashboard must work offline: no request may leave the app"
    assert errors == [], f"JavaScript errors: {errors}"
