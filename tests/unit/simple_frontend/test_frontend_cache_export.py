"""The answer cache, the interval chosen when none is asked for and the CSV tables: no services."""

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from flask import Flask, Response, jsonify

from pipeline_common.contracts import Interval
from simple_frontend.cache import AnswerCache, RecentAnswer
from simple_frontend.export import parse_format, timeline_csv, totals_csv
from simple_frontend.params import ParamError, TimeRange, choose_interval

UTC = timezone.utc


@pytest.mark.parametrize(
    "hours, stored, cap, expected",
    [
        (24, Interval, 2000, Interval.MINUTE),  # 1440 minutes fit
        (48, Interval, 2000, Interval.HOUR),  # 2880 minutes do not
        (48, (Interval.HOUR, Interval.DAY), 5000, Interval.HOUR),  # nothing finer than stored
        (24 * 60, Interval, 2000, Interval.HOUR),  # 1440 hours
        (24 * 60, Interval, 1000, Interval.DAY),
        (24 * 4000, Interval, 2000, Interval.DAY),  # nothing fits: the coarsest, refused later
        (24, (), 2000, Interval.MINUTE),  # nothing stored yet: any interval
    ],
)
def test_the_chosen_interval_is_the_finest_that_fits(hours, stored, cap, expected):
    start = datetime(2025, 1, 1, tzinfo=UTC)
    assert choose_interval(TimeRange(start, start + timedelta(hours=hours)), stored, cap) is expected


def test_timeline_csv_lists_every_point_under_a_header():
    series = {
        "person": [
            {"t": "2025-04-14T09:00:00.000Z", "y": 5, "state": "final"},
            {"t": "2025-04-14T10:00:00.000Z", "y": 0, "state": "live"},
        ],
        "traffic light": [
            {"t": "2025-04-14T09:00:00.000Z", "y": 1, "state": "final"},
            {"t": "2025-04-14T10:00:00.000Z", "y": 2, "state": "live"},
        ],
    }
    rows = list(csv.reader(io.StringIO(timeline_csv(series))))
    assert rows == [
        ["time", "label", "count", "state"],
        ["2025-04-14T09:00:00.000Z", "person", "5", "final"],
        ["2025-04-14T10:00:00.000Z", "person", "0", "live"],
        ["2025-04-14T09:00:00.000Z", "traffic light", "1", "final"],
        ["2025-04-14T10:00:00.000Z", "traffic light", "2", "live"],
    ]


def test_totals_csv_quotes_what_needs_quoting():
    text = totals_csv([("front door, left", 3), ("car", 1)])
    assert text == 'label,count\r\n"front door, left",3\r\ncar,1\r\n'
    assert totals_csv([]) == "label,count\r\n"


HOSTILE = ['=HYPERLINK("http://x.example","click")', "+1+2", "-2+3", "@SUM(A1:A2)", "\tx", "\rx"]


@pytest.mark.parametrize("label", HOSTILE)
def test_no_csv_cell_starts_a_formula(label):
    """A label (a model's class, a camera folder's name) that begins like a formula is
    written with a leading apostrophe; its numbers are unchanged."""
    totals = list(csv.reader(io.StringIO(totals_csv([(label, 3), ("person", 4)]), newline="")))
    assert totals[1:] == [[f"'{label}", "3"], ["person", "4"]]
    series = {label: [{"t": "2025-04-14T09:00:00.000Z", "y": 5, "state": "final"}]}
    timeline = list(csv.reader(io.StringIO(timeline_csv(series), newline="")))
    assert timeline[1] == ["2025-04-14T09:00:00.000Z", f"'{label}", "5", "final"]


@pytest.mark.parametrize("text, expected", [(None, "json"), ("json", "json"), ("csv", "csv")])
def test_format_accepted(text, expected):
    assert parse_format(text) == expected


@pytest.mark.parametrize("text", ["", "CSV", "xml", "csv "])
def test_format_refused(text):
    with pytest.raises(ParamError, match="format: expected one of json, csv"):
        parse_format(text)


@pytest.fixture
def flask_app():
    app = Flask(__name__)
    with app.app_context():
        yield app


def test_answer_cache_builds_once_per_key(flask_app):
    cache, built = AnswerCache(10), []

    def build(value):
        def make() -> Response:
            built.append(value)
            return jsonify({"value": value})

        return make

    first = cache.answer(("timeline", 1), build("a"))
    second = cache.answer(("timeline", 1), build("b"))
    other = cache.answer(("timeline", 2), build("c"))
    assert built == ["a", "c"]
    assert (first.headers["X-Cache"], second.headers["X-Cache"], other.headers["X-Cache"]) == ("miss", "hit", "miss")
    assert second.get_json() == {"value": "a"}
    assert second.mimetype == "application/json"


def test_repeated_requests_are_kept_up_to_the_cache_size_newest_first(flask_app):
    cache = AnswerCache(4)
    for n in range(7):
        cache.answer(("timeline", n), lambda n=n: jsonify({"n": n}), repeat=(("/api/timeline", f"q={n}"), "/api/x"))
    kept = [n for n in range(7) if cache.repeated(("/api/timeline", f"q={n}")) is not None]
    assert kept[-1] == 6 and len(kept) <= 4
    stored, rule = cache.repeated(("/api/timeline", "q=6"))
    assert (json.loads(stored.body), rule, dict(stored.headers)["X-Cache"]) == ({"n": 6}, "/api/x", "hit")


def test_answer_cache_keeps_no_error(flask_app):
    cache, built = AnswerCache(10), []

    def failing() -> Response:
        built.append(1)
        response = jsonify({"error": "x"})
        response.status_code = 503
        return response

    cache.answer("k", failing)
    cache.answer("k", failing)
    assert len(built) == 2


def test_answer_cache_of_size_zero_is_off(flask_app):
    built = []
    cache = AnswerCache(0)
    for _ in range(2):
        answer = cache.answer("k", lambda: built.append(1) or jsonify({}))
    assert len(built) == 2 and answer.headers["X-Cache"] == "off"


def test_recent_answer_is_reused_for_its_seconds(flask_app):
    now = [0.0]
    recent, built = RecentAnswer(5, timer=lambda: now[0]), []

    def build() -> Response:
        built.append(now[0])
        return jsonify({"at": now[0]})

    assert recent.answer(build).get_json() == {"at": 0.0}
    now[0] = 4.9
    assert recent.answer(build).get_json() == {"at": 0.0}
    now[0] = 5.1
    assert recent.answer(build).get_json() == {"at": 5.1}
    assert built == [0.0, 5.1]


def test_a_repeated_request_is_answered_from_the_cache_and_still_measured(fake_es, settings):
    from prometheus_client import REGISTRY

    from simple_frontend.app import create_app
    from tests.unit.simple_frontend.conftest import NOW

    def timed() -> float:
        labels = {"endpoint": "/api/totals", "method": "GET", "status": "200"}
        return REGISTRY.get_sample_value("pipeline_api_request_seconds_count", labels) or 0

    timer = [0.0]
    app = create_app(
        {
            "FRONTEND_SETTINGS": settings.replace(cached_answers=100),
            "ES_CLIENT": fake_es,
            "CLOCK": lambda: NOW,
            "ES_INDEX": "counts-test",
            "TIMER": lambda: timer[0],
        }
    )
    client, before = app.test_client(), timed()
    url = "/api/totals?from=now-24h&label=person"
    first = client.get(url)
    searches = len(fake_es.calls)
    # the same request (and the same query written differently) at the same generation
    for again in (client.get(url), client.get("/api/totals?label=person&from=now-24h")):
        assert (again.status_code, again.headers["X-Cache"]) == (200, "hit")
        assert again.get_json() == first.get_json()
    assert len(fake_es.calls) == searches
    assert timed() == before + 3
    # the generation moves (a new run indexed): asked again
    fake_es.runs = ["20250414T091500Z"]
    timer[0] += settings.max_staleness_s + 1  # looked up again once the staleness bound has passed
    assert client.get(url).headers["X-Cache"] == "miss"
    assert len(fake_es.calls) > searches


def test_a_slow_generation_look_up_stalls_only_the_thread_making_it(fake_es):
    import threading

    from simple_frontend.store import CountsStore

    now = [0.0]
    store = CountsStore(fake_es, "counts-test", "live-*", max_staleness_s=5, clock=lambda: now[0])
    first = store.snapshot()
    started, release = threading.Event(), threading.Event()
    plain_search = fake_es.search

    def slow_search(index, **body):
        started.set()
        release.wait(10)
        return plain_search(index=index, **body)

    fake_es.search = slow_search
    fake_es.runs = ["20250414T091500Z"]
    now[0] = 6.0
    refresher = threading.Thread(target=store.snapshot)
    refresher.start()
    assert started.wait(10)
    assert store.snapshot() is first  # not waiting for the look-up in flight
    release.set()
    refresher.join(10)
    assert store.snapshot().generation != first.generation
