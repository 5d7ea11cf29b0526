"""The dashboard in headless Chromium, served by the real app over the real Elasticsearch:
the charts show the counts (final ones from a batch run three hours ago, live ones after
it), mark the live part, follow the filters, and pick up new live images by themselves;
an alert the live indexer fires on images from Kafka shows in the alert list."""

import subprocess
import sys
import threading
import uuid
from datetime import timedelta

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import NewTopic

from es_live.app import run_live_indexer
from es_live.index import live_index_names, template_name
from es_live.settings import LiveIndexerSettings
from pipeline_common.contracts import DetectionEvent, serialize_detection_event
from pipeline_common.environment import PROJECT_ROOT, child_environment
from pipeline_common.kafka import RunLimits
from pipeline_common.output_runs import new_run_id
from pipeline_common.timestamps import utc_now
from simple_frontend.app import create_app
from simple_frontend.settings import FrontendSettings

from .browser_support import offline_page, serving
from .gallery_support import index_events, live_indices
from .sample_counts import busy_day_events, rolled_up, totals_by_label

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SCREENSHOT = PROJECT_ROOT / "test-artifacts" / "dashboard.png"


@pytest.fixture(scope="module")
def events():
    return busy_day_events(utc_now())


def live_events(events) -> list[DetectionEvent]:
    """The images behind the sample counts, one event each, as the consumer sends them:
    a (label, source, minute, detections, images) row is `images` images."""
    made = []
    for label, source, minute, detections, images in events:
        for n in range(images):
            count = detections - (images - 1) if n == images - 1 else 1
            made.append(DetectionEvent(uuid.uuid4().hex, source, minute, minute, "yolov3-tiny", {label: count}))
    return made


@pytest.fixture(scope="module")
def live_prefix(es, es_settings):
    with live_indices(es, es_settings, "dashboard") as prefix:
        yield prefix


@pytest.fixture(scope="module")
def alerts_index(es, es_settings):
    """The alerts the dashboard lists: this module's own index, in the alerts' family."""
    name = f"{es_settings.alerts_index}-test-dashboard-{uuid.uuid4().hex[:10]}"
    yield name
    es.indices.delete(index=name, ignore_unavailable=True)


@pytest.fixture(scope="module")
def server(es, es_settings, api_es_settings, events, live_prefix, alerts_index):
    """The app on a free port of 127.0.0.1, on the real clock, over a fresh batch index
    holding a run of three hours ago, and live indices holding every image."""
    from .conftest import create_counts_index

    run_at = utc_now() - timedelta(hours=3)
    batch = [event for event in events if event[2] < run_at]
    index = create_counts_index(es, rolled_up(batch, run_id=new_run_id(run_at)), es_settings.index)
    index_events(es, live_prefix, live_events(events))
    settings = FrontendSettings(
        elasticsearch=api_es_settings.replace(live_index_prefix=live_prefix, alerts_index=alerts_index),
        max_staleness_s=0,
    )
    with serving(create_app({"FRONTEND_SETTINGS": settings, "ES_INDEX": index})) as url:
        yield url
    es.indices.delete(index=index, ignore_unavailable=True)


@pytest.fixture
def page(browser, server):
    with offline_page(browser, server) as page:
        yield page


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


# the gallery holds images, each with the label (and from the source, when one is given)
GALLERY_SHOWS = """({ label, source }) => { const images = window.gallery.state.images;
    return images.length > 0 && images.every((i) => label in i.counts && (source === null || i.source === source)); }"""


def number_in(text: str) -> int:
    return int("".join(ch for ch in text if ch.isdigit()))


# the filters whose field reaches beyond its own box (into the next one)
STICKING_OUT = """() => [...document.querySelectorAll(".control-row > .control")].filter((control) => {
    const own = control.getBoundingClientRect();
    const field = control.querySelector("select, .segmented").getBoundingClientRect();
    return field.left < own.left - 0.5 || field.right > own.right + 0.5;
}).map((control) => control.querySelector(".control-label").textContent)"""


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
    assert page.evaluate(STICKING_OUT) == []
    assert page.locator("#labels-hint").inner_text() == "(none chosen: all are shown)"  # 6 labels, 8 lines at most
    # this app has no S3 keys: the gallery lists the images and says why it cannot show them
    unavailable = page.locator("#gallery-unavailable")
    unavailable.wait_for()
    assert unavailable.inner_text() == (
        "Images cannot be shown: images are not configured: set FRONTEND_S3_ACCESS_KEY and FRONTEND_S3_SECRET_KEY"
    )
    assert page.locator("#gallery figure").count() > 0
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # choose one label: only its line remains
    assert settle(page, lambda: page.locator('.chip[data-label="car"]').click()) == "ready"
    assert page.evaluate(TIMELINE_SUMS) == {"car": expected["car"]}
    assert page.locator(".card-main .card-title").inner_text().endswith("chosen labels")
    page.wait_for_function(GALLERY_SHOWS, arg={"label": "car", "source": None})  # the gallery follows

    # and one source: the line follows it
    cam_b = totals_by_label(events, source="cam-b")
    assert settle(page, lambda: page.select_option("#source", "cam-b")) == "ready"
    assert page.evaluate(TIMELINE_SUMS) == {"car": cam_b["car"]}
    assert page.evaluate(TOP_BARS) == cam_b
    page.wait_for_function(GALLERY_SHOWS, arg={"label": "car", "source": "cam-b"})


POINT_STATES = """() => [...new Set(window.dashboard.charts.timeline.data.datasets.flatMap(
    (d) => d.data.map((point) => point.state)))].sort()"""


def test_live_buckets_are_marked_and_new_images_appear_by_themselves(page, server, events, es, live_prefix):
    expected = totals_by_label(events)
    page.goto(server + "/")
    assert settle(page) == "ready"

    # the last three hours are live: marked in the data, dashed, and explained
    assert page.evaluate(POINT_STATES) == ["final", "live"]
    note = page.locator("#live-note")
    assert note.is_visible() and "live counts since" in note.inner_text()
    assert page.evaluate("window.dashboard.state.live") is True
    assert "includes live counts" in page.locator(".card-main .card-note").inner_text()
    # the auto-refresh switch's hint says how often the page asks while live counts are shown
    assert "every 2 s while live counts are shown" in page.locator("label.switch").get_attribute("title")

    # a new image is indexed live: the page shows it without anyone touching it
    index_events(
        es,
        live_prefix,
        [
            DetectionEvent(
                uuid.uuid4().hex, "cam-a", utc_now() - timedelta(minutes=1), utc_now(), "yolov3-tiny", {"car": 5}
            )
        ],
    )
    want = sum(expected.values()) + 5
    page.wait_for_function(
        f"Number(document.querySelector('.card-main .card-value').textContent.replace(/[^0-9]/g, '')) === {want}",
        timeout=60_000,
    )
    assert page.evaluate(TIMELINE_SUMS)["car"] == expected["car"] + 5


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
    assert page.locator("#labels").inner_text() == "No labels in this range"
    assert page.locator("#labels-hint").inner_text() == ""  # nothing to choose from
    assert page.locator("#error").is_hidden()


def test_a_shared_view_the_api_refuses_says_why_and_still_shows_alerts_and_images(page, server):
    page.goto(server + "/?range=now-30d&interval=minute")
    assert settle(page) == "error"
    assert "43201 minute buckets; at most 2000 are allowed" in page.locator("#error").inner_text()
    assert "asking again" not in page.locator("#error").inner_text()  # asking again gives the same answer
    # no chart is left blank without a word; what does not need the charts' query is shown
    for name in ("timeline", "top"):
        assert page.locator(f"#{name}-empty").inner_text() == "Not drawn: the data could not be loaded (see above)"
    assert page.locator("#alerts li").count() > 0
    page.wait_for_function("window.gallery.state.renders > 0")
    assert page.locator("#gallery figure").count() > 0 and page.locator("#gallery-error").is_hidden()


def test_elasticsearch_unreachable_is_said_once_per_panel(browser, api_es_settings):
    """No Elasticsearch at all (the API answers 503): every panel says so, none stays blank."""
    settings = FrontendSettings(elasticsearch=api_es_settings.replace(url="https://127.0.0.1:9/elasticsearch"))
    with serving(create_app({"FRONTEND_SETTINGS": settings})) as url, offline_page(browser, url) as page:
        page.goto(url + "/")
        page.wait_for_function("window.dashboard && window.dashboard.state.renders > 0", timeout=60_000)
        assert page.evaluate("document.body.dataset.state") == "error"
        assert page.locator("#health").inner_text() == "Elasticsearch: unavailable"
        assert "Elasticsearch is unreachable" in page.locator("#error").inner_text()
        # it may come back: the page says it asks again, and has the next time set
        assert page.locator("#error").inner_text().endswith("; asking again every 30 s")
        assert page.evaluate("window.dashboard.state.timer !== null")
        assert page.locator("#timeline-empty").inner_text() == "Not drawn: the data could not be loaded (see above)"
        assert page.locator("#alerts li").all_inner_texts() == ["Alerts could not be read."]
        page.wait_for_function("window.gallery.state.renders > 0")
        assert "Could not load the images: Elasticsearch is unreachable" in page.locator("#gallery-error").inner_text()
        page.screenshot(path=str(SCREENSHOT.with_name("dashboard-unreachable.png")), full_page=True)


# every chart inside its panel, and nothing wider than the window
CHARTS_FIT = """() => [...document.querySelectorAll(".chart-panel")].every((panel) =>
    panel.querySelector("canvas").getBoundingClientRect().right <= panel.getBoundingClientRect().right)
    && document.documentElement.scrollWidth <= window.innerWidth"""


def test_the_charts_shrink_with_the_window(page, server):
    # final counts only: the page does not redraw by itself (that would hide the fault)
    end = utc_now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=4)
    span = f"from={(end - timedelta(hours=20)).isoformat()}&to={end.isoformat()}".replace("+", "%2B")
    page.goto(f"{server}/?range=custom&{span}")
    assert settle(page) == "ready"
    assert page.evaluate("window.dashboard.state.live") is False
    assert page.evaluate(CHARTS_FIT)
    # a narrower window (still two columns): the charts are drawn again to fit (Chart.js
    # resizes them when their box changes, soon after), no sideways scrolling
    page.set_viewport_size({"width": 1100, "height": 1000})
    page.wait_for_function(CHARTS_FIT)
    page.set_viewport_size({"width": 360, "height": 800})  # a phone: one column, headings wrapped
    page.wait_for_function(CHARTS_FIT)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.wait_for_function(CHARTS_FIT)


ACTIVE_RANGE = "() => document.querySelector('#presets button.active').dataset.range"
CHOSEN_LABELS = "() => [...document.querySelectorAll('.chip.selected')].map((chip) => chip.dataset.label).sort()"


def test_a_shared_url_restores_the_view_and_the_back_button_returns_to_it(page, server):
    cam_b = api_totals(page, server, "from=now-7d&to=now&interval=hour&source=cam-b&label=person&label=car")
    page.goto(server + "/?range=now-7d&interval=hour&source=cam-b&label=person&label=car")
    assert settle(page) == "ready"
    # the controls show the shared view, and the charts hold its counts
    assert page.evaluate(ACTIVE_RANGE) == "now-7d"
    assert page.input_value("#interval") == "hour"
    assert page.input_value("#source") == "cam-b"
    assert page.evaluate(CHOSEN_LABELS) == ["car", "person"]
    assert page.evaluate(TIMELINE_SUMS) == {"person": cam_b["person"], "car": cam_b["car"]}
    assert "per hour" in page.locator("#timeline-caption").inner_text()
    page.screenshot(path=str(SCREENSHOT.with_name("dashboard-shared-view.png")), full_page=True)

    # a change is a new address ...
    assert settle(page, lambda: page.click('button[data-range="now-24h"]')) == "ready"
    assert "range=" not in page.url and "source=cam-b" in page.url
    assert settle(page, lambda: page.select_option("#source", "")) == "ready"
    assert "source=" not in page.url
    # ... and the back button returns to the view before it, step by step
    assert settle(page, page.go_back) == "ready"
    assert page.input_value("#source") == "cam-b" and page.evaluate(ACTIVE_RANGE) == "now-24h"
    assert settle(page, page.go_back) == "ready"
    assert page.evaluate(ACTIVE_RANGE) == "now-7d"
    assert page.evaluate(TIMELINE_SUMS) == {"person": cam_b["person"], "car": cam_b["car"]}


def download_rows(page, selector: str) -> list[list[str]]:
    import csv

    with page.expect_download() as info:
        page.click(selector)
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    with open(download.path(), newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def api_totals(page, server: str, query: str) -> dict[str, int]:
    """/api/totals as a {label: count} dict (the live test adds images to the sample day,
    so later tests compare with the API rather than with the sample alone)."""
    answer = page.request.get(f"{server}/api/totals?{query}")
    assert answer.ok, answer.text()
    return {row["label"]: row["count"] for row in answer.json()["totals"]}


def test_csv_downloads_hold_the_numbers_on_screen(page, server):
    page.goto(server + "/?source=cam-a")
    assert settle(page) == "ready"
    shown = page.evaluate(TIMELINE_SUMS)

    timeline = download_rows(page, "#timeline-csv")
    assert timeline[0] == ["time", "label", "count", "state"]
    sums: dict[str, int] = {}
    for _, label, count, state in timeline[1:]:
        assert state in ("final", "live")
        sums[label] = sums.get(label, 0) + int(count)
    assert sums == shown

    totals = download_rows(page, "#totals-csv")
    assert totals[0] == ["label", "count"]
    cam_a = api_totals(page, server, "from=now-24h&to=now&interval=hour&source=cam-a")
    assert {label: int(count) for label, count in totals[1:]} == cam_a
    everywhere = api_totals(page, server, "from=now-24h&to=now&interval=hour")
    assert sum(cam_a.values()) < sum(everywhere.values())  # cam-a only


def test_two_sources_and_two_periods_compare_on_one_chart(page, server):
    day = "from=now-24h&to=now&interval=hour&label=car&label=person"
    cam_a, cam_b = (api_totals(page, server, f"{day}&source={source}") for source in ("cam-a", "cam-b"))
    assert cam_a != cam_b
    page.goto(server + "/?source=cam-b&label=car&label=person&compare=source&vs=cam-a")
    assert settle(page) == "ready"
    assert page.is_visible("#vs-control") and page.input_value("#vs") == "cam-a"
    assert page.evaluate(TIMELINE_SUMS) == {
        "car · cam-b": cam_b["car"],
        "person · cam-b": cam_b["person"],
        "car · cam-a": cam_a["car"],
        "person · cam-a": cam_a["person"],
    }
    # the cards say the other source's totals beside this one's
    for label in ("car", "person"):
        assert page.locator(f'.card[data-label="{label}"] .card-note').inner_text() == f"cam-a: {cam_a[label]}"
    assert page.locator(".card-main .card-note").inner_text().endswith(f" · cam-a: {cam_a['car'] + cam_a['person']}")
    page.screenshot(path=str(SCREENSHOT.with_name("dashboard-comparison.png")), full_page=True)

    # a click on a point of the compared source shows that source's images of that hour
    hour = click_peak(page, "car · cam-a")
    page.wait_for_function('document.getElementById("gallery").dataset.mode === "bucket"')
    page.wait_for_function("window.gallery.state.images.length > 0")
    assert "car · cam-a · " in page.locator("#bucket-text").inner_text()
    shown = page.evaluate("window.gallery.state.images.map((i) => [i.source, i.captured_at, Object.keys(i.counts)])")
    for source, captured_at, labels in shown:
        assert source == "cam-a" and "car" in labels
        assert 0 <= _epoch_ms(captured_at) - _epoch_ms(hour) < 3600_000
    page.locator("#bucket-clear").click()

    # the period before, drawn over this one: the sample day has nothing the day before
    assert settle(page, lambda: page.select_option("#compare", "previous")) == "ready"
    assert "compare=previous" in page.url and page.is_hidden("#vs-control")
    sums = page.evaluate(TIMELINE_SUMS)
    assert sums == {
        "car · this period": cam_b["car"],
        "person · this period": cam_b["person"],
        "car · period before": 0,
        "person · period before": 0,
    }
    assert page.locator('.card[data-label="car"] .card-note').inner_text() == "period before: 0"
    # its points lie on this period's axis: moved forward by the range's length
    first = page.evaluate("""() => { const d = window.dashboard.charts.timeline.data.datasets;
        return [d[0].data[0].t, d[2].data[0].t, d[2].data[0].at]; }""")
    assert abs(first[1] - _epoch_ms(first[0])) <= 3600_000
    assert _epoch_ms(first[2]) == first[1] - 86400_000


PEAK = """(name) => {
    const chart = window.dashboard.charts.timeline, datasets = chart.data.datasets;
    const index = datasets.findIndex((d) => d.label === name);
    const ys = datasets[index].data.map((p) => p.y);
    // the point standing out most above every other series at its time: the nearest to a click on it
    const margin = (k) => ys[k] - Math.max(...datasets.filter((_, i) => i !== index).map((d) => d.data[k].y));
    const k = ys.map((_, i) => i).reduce((best, i) => (margin(i) > margin(best) ? i : best), 0);
    const element = chart.getDatasetMeta(index).data[k], point = datasets[index].data[k];
    return { x: element.x, y: element.y, t: point.at || point.t, margin: margin(k) };
}"""


def click_peak(page, dataset: str) -> str:
    """Clicks the point of `dataset` that stands out most above the other series; its time."""
    point = page.evaluate(PEAK, dataset)
    assert point["margin"] > 0, f"no point of {dataset} stands out to be clicked"
    box = page.locator("#timeline-chart").bounding_box()
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    return point["t"]


def _epoch_ms(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.fixture
def alerting_live_indexer(es, es_settings, pipeline_env, kafka_admin, kafka_settings, grant_kafka, alerts_index):
    """start() runs the live indexer (its own accounts) on topics, a group, live indices and
    a rules index of this test's, recording alerts where the dashboard reads them; yields
    (rules index, publish(events), start)."""
    suffix = uuid.uuid4().hex[:10]
    topic, dead_letters, group = f"it-alerts-{suffix}", f"it-alerts-dead-{suffix}", f"it-alerts-{suffix}"
    prefix = f"{es_settings.live_index_prefix}test-alerts-{suffix}-"
    rules_index = f"{es_settings.alert_rules_index}-test-dashboard-{suffix}"
    for future in kafka_admin.create_topics([NewTopic(topic, 1, 1), NewTopic(dead_letters, 1, 1)]).values():
        future.result(timeout=30)
    grant_kafka(detections_topic=topic, detections_dead_letter_topic=dead_letters, live_group=group)
    env = {
        **pipeline_env,
        "PIPELINE_DOTENV": "/nonexistent",
        "KAFKA_DETECTIONS_TOPIC": topic,
        "KAFKA_DETECTIONS_DEAD_LETTER_TOPIC": dead_letters,
        "LIVE_CONSUMER_GROUP": group,
        "ES_LIVE_INDEX_PREFIX": prefix,
        "ES_ALERT_RULES_INDEX": rules_index,
        "ES_ALERTS_INDEX": alerts_index,
        "ALERT_DELAY_S": "1.5",
        "LIVE_BATCH_WAIT_S": "0.2",
        "LIVE_METRICS_PORT": "0",
    }
    stop, workers = threading.Event(), []

    def publish(events) -> None:
        producer = Producer(kafka_settings.client_config())
        for event in events:
            producer.produce(topic, value=serialize_detection_event(event), key=event.image_id.encode())
        assert producer.flush(30) == 0

    def start() -> None:
        settings = LiveIndexerSettings.from_env(env)
        workers.append(threading.Thread(target=run_live_indexer, args=(settings, RunLimits(), stop), daemon=True))
        workers[-1].start()

    yield rules_index, publish, start
    stop.set()
    for worker in workers:
        worker.join(60)
    kafka_admin.delete_topics([topic, dead_letters], operation_timeout=10)
    for name in live_index_names(es, prefix):
        es.indices.delete(index=name, ignore_unavailable=True)
    es.options(ignore_status=404).indices.delete_index_template(name=template_name(prefix))
    es.indices.delete(index=rules_index, ignore_unavailable=True)


def test_an_alert_the_live_indexer_fires_is_listed_on_the_dashboard(page, server, alerting_live_indexer):
    rules_index, publish, start = alerting_live_indexer
    page.goto(server + "/")
    assert settle(page) == "ready"
    assert page.locator("#alerts li").all_inner_texts() == ["No alert has fired."]

    # an operator adds a rule with the command the dashboard names, as the administrator
    added = subprocess.run(
        [sys.executable, "-m", "es_live.alerts", "add", "--label", "bicycle", "--source", "cam-gate"]
        + ["--above", "2", "--interval", "minute"],
        env=child_environment(ES_ALERT_RULES_INDEX=rules_index),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip().endswith("bicycle at cam-gate above 2 per minute")

    # two images with two bicycles each in one minute reach the live indexer through Kafka
    start()
    captured = utc_now() - timedelta(minutes=2)
    publish(
        [DetectionEvent(uuid.uuid4().hex, "cam-gate", captured, utc_now(), "yolov4-tiny", {"bicycle": 2}) for _ in "ab"]
    )
    # the dashboard re-asks by itself while it shows live counts: the alert appears, once
    page.wait_for_function(
        "document.querySelectorAll('#alerts li:not(.none)').length > 0", timeout=120_000
    )  # a wait for the outcome, not a timing check
    items = page.locator("#alerts li:not(.none)")
    assert items.count() == 1
    assert items.locator(".alert-count").inner_text() == "4"
    text = items.inner_text()
    assert "bicycle at cam-gate above 2 per minute: in the minute from" in text and "webhook off" in text
    page.locator("#alerts").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOT.with_name("dashboard-alerts.png")), full_page=True)
