"""The dashboard in headless Chromium, served by the real app over the real Elasticsearch:
the charts show the indexed counts, and changing a filter changes them."""
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from pipeline_common.environment import PROJECT_ROOT
from pipeline_common.timestamps import utc_now
from simple_frontend.app import create_app
from simple_frontend.settings import FrontendSettings

from .sample_counts import busy_day_events, rolled_up, totals_by_label

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT = PROJECT_ROOT / "test-artifacts" / "dashboard.png"
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def events():
    return busy_day_events(utc_now())


@pytest.fixture(scope="module")
def server(es, es_settings, events):
    """The app on a free port of 127.0.0.1, on the real clock, over a fresh index."""
    from .conftest import create_counts_index

    index = create_counts_index(es, rolled_up(events))
    app = create_app({"FRONTEND_SETTINGS": FrontendSettings(elasticsearch=es_settings), "ES_INDEX": index})
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join(timeout=10)
    es.indices.delete(index=index, ignore_unavailable=True)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make setup` installs Debian's chromium", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
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


def settle(page, action=None):
    """Run `action` and wait until the dashboard has finished the refresh it causes."""
    before = page.evaluate("window.dashboard ? window.dashboard.state.renders : 0")
    if action:
        action()
    page.wait_for_function(f"window.dashboard && window.dashboard.state.renders > {before}")
    return page.evaluate("document.body.dataset.state")


TIMELINE_SUMS = """() => Object.fromEntries(window.dashboard.charts.timeline.data.datasets.map(
    (d) => [d.label, d.data.reduce((sum, point) => sum + point.y, 0)]))"""
TOP_BARS = """() => { const c = window.dashboard.charts.top.data;
    return Object.fromEntries(c.labels.map((label, i) => [label, c.datasets[0].data[i]])); }"""


def number_in(text: str) -> int:
    return int("".join(ch for ch in text if ch.isdigit()))


def test_dashboard_shows_the_indexed_counts_and_follows_filters(page, server, events):
    expected = totals_by_label(events)
    page.goto(server + "/")
    assert settle(page) == "ready"

    # the last 24 hours: one line per label, summing to that label's detections
    assert page.evaluate(TIMELINE_SUMS) == expected
    assert page.evaluate(TOP_BARS) == expected
    assert number_in(page.locator(".card-main .card-value").inner_text()) == sum(expected.values())
    assert number_in(page.locator('.card[data-label="car"] .card-value').inner_text()) == expected["car"]
    assert page.locator("#timeline-empty").is_hidden()
    assert "Elasticsearch OK" in page.locator("#health").inner_text()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # choose one label: only its line remains
    assert settle(page, lambda: page.locator('.chip[data-label="car"]').click()) == "ready"
    assert page.evaluate(TIMELINE_SUMS) == {"car": expected["car"]}
    assert page.locator(".card-main .card-title").inner_text().endswith("chosen labels")

    # and one source: the line follows it
    cam_b = totals_by_label(events, source="cam-b")
    assert settle(page, lambda: page.select_option("#source", "cam-b")) == "ready"
    assert page.evaluate(TIMELINE_SUMS) == {"car": cam_b["car"]}
    assert page.evaluate(TOP_BARS) == cam_b


def test_dashboard_explains_errors_and_empty_ranges(page, server):
    page.goto(server + "/")
    assert settle(page) == "ready"

    # a minute chart over 30 days is refused by the API; the page says why
    assert settle(page, lambda: page.select_option("#interval", "minute")) == "ready"
    assert settle(page, lambda: page.click('button[data-range="now-30d"]')) == "error"
    banner = page.locator("#error")
    assert banner.is_visible()
    assert "minute buckets; at most 2000 are allowed" in banner.inner_text()

    # a range without data shows the empty state, not an empty chart
    assert settle(page, lambda: page.select_option("#interval", "auto")) == "ready"
    page.click('button[data-range="custom"]')
    page.fill("#custom-from", "2001-01-01T00:00")
    page.fill("#custom-to", "2001-01-02T00:00")
    assert settle(page, lambda: page.click("#custom-range button[type=submit]")) == "empty"
    assert page.locator("#timeline-empty").is_visible()
    assert page.locator("#timeline-empty").inner_text() == "No data in this range"
    assert page.locator("#error").is_hidden()
