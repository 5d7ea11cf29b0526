"""Answers from cache, the interval chosen when none is asked for, and CSV export, against
the real Elasticsearch (read with the API's own account)."""

import csv
import io
import uuid
from datetime import datetime, timedelta

import pytest
from elasticsearch.helpers import bulk

from es_live.documents import action
from es_live.index import ensure_template, live_index_names, template_name
from pipeline_common.contracts import DetectionEvent
from pipeline_common.timestamps import to_iso
from simple_frontend.app import create_app
from simple_frontend.settings import FrontendSettings

from .sample_counts import EVENTS, NOW, RUN_ID, UTC, rolled_up

PERSON_MORNING = "/api/timeline?label=person&from=2025-04-14T08:00:00Z&to=2025-04-14T12:00:00Z&interval=hour"


class Timer:
    """The caches' monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def live_prefix(es, es_settings):
    """Live indices of this test only (in the live family the API's account may read)."""
    prefix = f"{es_settings.live_index_prefix}test-cache-{uuid.uuid4().hex[:10]}-"
    ensure_template(es, prefix)
    yield prefix
    for name in live_index_names(es, prefix):
        es.indices.delete(index=name, ignore_unavailable=True)
    es.options(ignore_status=404).indices.delete_index_template(name=template_name(prefix))


@pytest.fixture
def cached_app(api_es_settings, live_prefix):
    """cached_app(index, **settings) -> (test client, timer): an app over `index` and this
    test's live indices whose caches run on a timer the test moves."""

    def make(index: str, **overrides):
        timer = Timer()
        settings = FrontendSettings(
            elasticsearch=api_es_settings.replace(live_index_prefix=live_prefix), **{"max_staleness_s": 30, **overrides}
        )
        app = create_app({"FRONTEND_SETTINGS": settings, "ES_INDEX": index, "CLOCK": lambda: NOW, "TIMER": timer})
        return app.test_client(), timer

    return make


def ys(answer, label="person"):
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return [point["y"] for point in answer.get_json()[label]]


def add_live_image(es, prefix: str, moment: datetime, counts: dict[str, int]) -> None:
    event = DetectionEvent(uuid.uuid4().hex, "cam-a", moment, moment, "yolov4-tiny", counts)
    ok, errors = bulk(es, [action(event, prefix, NOW)], refresh="wait_for")
    assert ok == 1 and not errors


def test_an_answer_is_served_again_until_a_batch_run_moves_the_generation(es, make_index, cached_app):
    index = make_index(rolled_up(EVENTS))
    api, timer = cached_app(index)
    first = api.get(PERSON_MORNING)
    assert first.headers["X-Cache"] == "miss"
    assert ys(first) == [0, 5, 0, 4]
    again = api.get(PERSON_MORNING)
    assert again.headers["X-Cache"] == "hit"
    assert again.get_data() == first.get_data()

    # The indexer writes more counts of the same hour (a run indexed again, later).
    document = {
        "label": "person",
        "source": "cam-c",
        "interval": "hour",
        "bucket_start": "2025-04-14T10:00:00.000Z",
        "detections": 7,
        "images": 3,
        "run_id": RUN_ID,
        "indexed_at": to_iso(NOW + timedelta(minutes=5)),
    }
    es.index(index=index, document=document, refresh="wait_for")
    # Within the staleness bound the generation is not looked up again: the same answer.
    timer.now += 29
    stale = api.get(PERSON_MORNING)
    assert stale.headers["X-Cache"] == "hit"
    assert ys(stale) == [0, 5, 0, 4]
    # Past it, the generation has moved: a fresh answer, then served again.
    timer.now += 2
    fresh = api.get(PERSON_MORNING)
    assert fresh.headers["X-Cache"] == "miss"
    assert ys(fresh) == [0, 5, 7, 4]
    assert api.get(PERSON_MORNING).headers["X-Cache"] == "hit"
    # Time alone does not refresh an answer whose data stayed the same.
    timer.now += 31
    unchanged = api.get(PERSON_MORNING)
    assert unchanged.headers["X-Cache"] == "hit"
    assert ys(unchanged) == [0, 5, 7, 4]


def test_live_images_move_the_generation(es, make_index, cached_app, live_prefix):
    # An empty batch index (no run yet): every count is live.
    api, timer = cached_app(make_index([]), max_staleness_s=5)
    url = "/api/totals?from=2025-04-14T08:00:00Z&to=2025-04-14T12:00:00Z&interval=hour"
    add_live_image(es, live_prefix, datetime(2025, 4, 14, 9, 30, tzinfo=UTC), {"person": 2})
    first = api.get(url)
    assert (first.headers["X-Cache"], first.get_json()["total"]) == ("miss", 2)
    assert api.get(url).headers["X-Cache"] == "hit"

    add_live_image(es, live_prefix, datetime(2025, 4, 14, 10, 45, tzinfo=UTC), {"person": 1, "dog": 1})
    assert api.get(url).get_json()["total"] == 2  # within the bound: the answer kept
    timer.now += 6
    fresh = api.get(url)
    assert fresh.headers["X-Cache"] == "miss"
    assert fresh.get_json()["totals"] == [{"label": "person", "count": 3}, {"label": "dog", "count": 1}]


def test_different_queries_are_different_answers(make_index, cached_app):
    api, _ = cached_app(make_index(rolled_up(EVENTS)))
    assert ys(api.get(PERSON_MORNING)) == [0, 5, 0, 4]
    cam_b = api.get(PERSON_MORNING + "&source=cam-b")
    assert cam_b.headers["X-Cache"] == "miss"
    assert ys(cam_b) == [0, 0, 0, 4]
    images = api.get(PERSON_MORNING + "&metric=images")
    assert images.headers["X-Cache"] == "miss"
    assert ys(images) == [0, 3, 0, 4]


def test_health_is_reused_within_the_staleness_bound(make_index, cached_app, es):
    index = make_index(rolled_up(EVENTS))
    api, timer = cached_app(index)
    first = api.get("/api/health")
    assert (first.status_code, first.headers["X-Cache"]) == (200, "miss")
    es.index(
        index=index,
        refresh="wait_for",
        document={
            "label": "cat",
            "source": "cam-a",
            "interval": "day",
            "bucket_start": "2025-04-14T00:00:00.000Z",
            "detections": 1,
            "images": 1,
            "run_id": RUN_ID,
            "indexed_at": to_iso(NOW),
        },
    )
    again = api.get("/api/health")
    assert again.headers["X-Cache"] == "hit"
    assert again.get_json() == first.get_json()
    timer.now += 31
    fresh = api.get("/api/health")
    assert fresh.headers["X-Cache"] == "miss"
    assert fresh.get_json()["documents"] == first.get_json()["documents"] + 1


# ---- the interval chosen when none is asked for --------------------------------------


@pytest.mark.parametrize(
    "query, expected, buckets",
    [
        ("from=2025-04-14T08:00:00Z&to=2025-04-14T12:00:00Z", "minute", 240),  # 240 minutes fit 2000
        ("from=now-7d", "hour", 168),  # 10080 minutes do not; 168 hours do
        ("from=2020-04-14T00:00:00Z&to=2025-04-15T00:00:00Z", "day", 1827),
    ],
)
def test_an_omitted_interval_is_the_finest_that_fits_and_is_reported(api, query, expected, buckets):
    answer = api.get(f"/api/timeline?label=person&{query}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["X-Interval"] == expected
    assert answer.headers["X-Interval-Chosen"] == "true"
    assert int(answer.headers["X-Buckets"]) == buckets == len(answer.get_json()["person"])
    assert sum(ys(answer)) == 9
    totals = api.get(f"/api/totals?label=person&{query}").get_json()
    assert (totals["interval"], totals["interval_chosen"], totals["total"]) == (expected, True, 9)


def test_a_named_interval_is_not_reported_as_chosen(api):
    answer = api.get("/api/timeline?label=person&from=now-24h&interval=hour")
    assert (answer.headers["X-Interval"], answer.headers["X-Interval-Chosen"]) == ("hour", "false")


def test_a_range_too_long_even_in_days_says_so(api, app_for, counts_index):
    ten_years = "/api/timeline?label=person&from=2015-04-15T00:00:00Z&to=2025-04-15T00:00:00Z"
    refused = api.get(ten_years)
    assert refused.status_code == 400
    assert "3653 day buckets; at most 2000" in refused.get_json()["error"]
    roomy = app_for(counts_index, max_buckets=4000).test_client().get(ten_years)
    assert (roomy.status_code, roomy.headers["X-Interval"]) == (200, "day")
    assert sum(ys(roomy)) == 9


# ---- CSV export ------------------------------------------------------------------------


def rows_of(answer):
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.reader(io.StringIO(answer.get_data(as_text=True))))


def test_timeline_csv_has_a_header_and_the_numbers_of_the_json(api):
    query = "/api/timeline?from=2025-04-13T00:00:00Z&to=2025-04-15T00:00:00Z&interval=hour&label=person&label=car"
    series = api.get(query).get_json()
    rows = rows_of(api.get(query + "&format=csv"))
    assert rows[0] == ["time", "label", "count", "state"]
    assert rows[1:] == [
        [point["t"], label, str(point["y"]), point["state"]] for label, points in series.items() for point in points
    ]
    assert len(rows) == 1 + 2 * 48
    assert sum(int(count) for _, label, count, _ in rows[1:] if label == "car") == 6


def test_totals_csv_has_a_header_and_the_numbers_of_the_json(api):
    body = api.get("/api/totals?from=now-7d").get_json()
    rows = rows_of(api.get("/api/totals?from=now-7d&format=csv"))
    assert rows == [["label", "count"]] + [[row["label"], str(row["count"])] for row in body["totals"]]
    assert sum(int(count) for _, count in rows[1:]) == body["total"] == 18


def test_an_unknown_format_is_refused(api):
    answer = api.get("/api/totals?format=xml")
    assert answer.status_code == 400
    assert "format: expected one of json, csv" in answer.get_json()["error"]
