"""Every endpoint against the real Elasticsearch, over documents with known counts."""

import pytest

from pipeline_common.contracts import Interval

from .sample_counts import EVENTS, rolled_up


def get(api, url, status=200):
    answer = api.get(url)
    assert answer.status_code == status, answer.get_data(as_text=True)
    return answer.get_json()


def test_totals_of_the_last_24_hours_count_each_detection_once(api):
    body = get(api, "/api/totals?from=now-24h&to=now")
    assert body["totals"] == [
        {"label": "person", "count": 9},
        {"label": "car", "count": 6},
        {"label": "traffic light", "count": 1},
    ]
    # minute, hour and day documents all hold these detections: 16, not 48
    assert body["total"] == 16
    assert body["from"] == "2025-04-13T12:00:00.000Z"


def test_totals_of_images_by_source(api):
    body = get(api, "/api/totals?from=now-7d&source=cam-b&metric=images")
    assert body["totals"] == [
        {"label": "person", "count": 4},
        {"label": "dog", "count": 2},
        {"label": "car", "count": 1},
    ]
    assert body["total"] == 7


def test_totals_of_chosen_labels(api):
    body = get(api, "/api/totals?from=now-7d&label=dog&label=car")
    assert body["totals"] == [{"label": "car", "count": 6}, {"label": "dog", "count": 2}]
    assert body["total"] == 8


def test_absolute_range_with_another_zone(api):
    # 11:00+02:00 is 09:00Z: from 09:00Z to 10:00Z holds person's two morning minutes
    body = get(api, "/api/totals?from=2025-04-14T11:00:00%2B02:00&to=2025-04-14T10:00:00Z")
    assert body["totals"] == [{"label": "person", "count": 5}]


def test_timeline_is_zero_filled_in_the_original_shape(api):
    answer = api.get(
        "/api/timeline?label=person&label=cat&from=2025-04-14T08:00:00Z&to=2025-04-14T12:00:00Z&interval=hour"
    )
    assert answer.status_code == 200
    assert answer.get_json() == {
        "person": [
            {"t": "2025-04-14T08:00:00.000Z", "y": 0, "state": "final"},
            {"t": "2025-04-14T09:00:00.000Z", "y": 5, "state": "final"},
            {"t": "2025-04-14T10:00:00.000Z", "y": 0, "state": "final"},
            {"t": "2025-04-14T11:00:00.000Z", "y": 4, "state": "final"},
        ],
        "cat": [
            {"t": t, "y": 0, "state": "final"}
            for t in (
                "2025-04-14T08:00:00.000Z",
                "2025-04-14T09:00:00.000Z",
                "2025-04-14T10:00:00.000Z",
                "2025-04-14T11:00:00.000Z",
            )
        ],
    }
    assert answer.headers["X-Stored-Interval"] == "hour"


def test_timeline_by_day_without_labels_shows_the_busiest(api):
    body = get(api, "/api/timeline?from=2025-04-10T00:00:00Z&to=2025-04-15T00:00:00Z&interval=day&n=2")
    assert list(body) == ["person", "car"]
    assert [point["y"] for point in body["car"]] == [0, 0, 0, 1, 5]
    assert [point["t"][:10] for point in body["person"]] == [
        "2025-04-10",
        "2025-04-11",
        "2025-04-12",
        "2025-04-13",
        "2025-04-14",
    ]


def test_timeline_by_minute(api):
    body = get(api, "/api/timeline?label=traffic%20light&from=2025-04-14T11:57:00Z&to=now&interval=minute")
    assert body == {
        "traffic light": [
            {"t": "2025-04-14T11:57:00.000Z", "y": 0, "state": "final"},
            {"t": "2025-04-14T11:58:00.000Z", "y": 0, "state": "final"},
            {"t": "2025-04-14T11:59:00.000Z", "y": 1, "state": "final"},
        ]
    }


def test_top(api):
    body = get(api, "/api/top?from=now-24h&n=2")
    assert body["top"] == [{"label": "person", "count": 9}, {"label": "car", "count": 6}]


def test_labels_and_sources(api):
    assert get(api, "/api/labels") == {"labels": ["car", "dog", "person", "traffic light"]}
    assert get(api, "/api/labels?from=now-24h&source=cam-b") == {"labels": ["car", "person"]}
    assert get(api, "/api/sources") == {"sources": ["cam-a", "cam-b"]}
    assert get(api, "/api/sources?label=dog") == {"sources": ["cam-b"]}


def test_legacy_shapes(api):
    assert get(api, "/api/count_specific?label=car") == {"label": "car", "count_in_range": 6}
    assert get(api, "/api/count_specific?label=dog&from=now-7d") == {"label": "dog", "count_in_range": 2}
    assert get(api, "/api/label_counts") == {"labels": ["person", "car", "traffic light"], "counts": [9, 6, 1]}


def test_health(api, counts_index):
    body = get(api, "/api/health")
    assert body["status"] == "ok"
    assert body["index"] == counts_index
    assert body["newest_bucket"] == "2025-04-14T11:59:00.000Z"
    assert body["oldest_bucket"] == "2025-04-10T00:00:00.000Z"
    assert body["stored_intervals"] == ["minute", "hour", "day"]
    assert body["documents"] == len(rolled_up(EVENTS))


@pytest.mark.parametrize(
    "url",
    [
        "/api/totals?label=",
        "/api/totals?source=" + "x" * 1001,
        "/api/totals?from=now-1d/d",
        "/api/totals?from=now-1d||%2B1d",
        "/api/timeline?interval=1h",
        "/api/timeline?from=now-30d&interval=minute",
        "/api/top?n=1000",
        "/api/count_specific?label=person&label=car",
        "/api/totals?query=*",
        "/api/alerts?limit=0",
        "/api/alerts?limit=101",
        "/api/alerts?limit=-1",
        "/api/alerts?limit=1e2",
        "/api/alerts?limit=%C2%B2",  # a superscript two: a digit to str.isdigit, not to int()
        "/api/alerts?limit=" + "9" * 5000,  # more digits than int() reads
        "/api/alerts?query=*",
    ],
)
def test_bad_or_hostile_parameters_get_400(api, url):
    body = get(api, url, status=400)
    assert body["error"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/count_specific?label=a%20OR%20b&from=now-7d",
        "/api/count_specific?label=person%20OR%20car&from=now-7d",
        "/api/count_specific?label=person%20car&from=now-7d",
        "/api/count_specific?label=label:person&from=now-7d",
        "/api/count_specific?label=_id:(a)&from=now-7d",
        # names are exact term values: a wildcard, a query or quotes are just characters
        "/api/count_specific?label=*&from=now-7d",
        "/api/count_specific?label=person*&from=now-7d",
        "/api/count_specific?label=%7B%22match_all%22%3A%7B%7D%7D&from=now-7d",
        "/api/count_specific?label=%22person%22&from=now-7d",
        "/api/count_specific?label=person&source=*&from=now-7d",
    ],
)
def test_query_syntax_in_a_label_matches_nothing(api, url):
    assert get(api, url)["count_in_range"] == 0


def test_query_syntax_in_a_source_matches_nothing(api):
    assert get(api, "/api/totals?from=now-7d&source=cam-a%20OR%20cam-b")["total"] == 0


def test_unknown_route_is_json_404(api):
    assert get(api, "/api/everything", status=404)["error"].startswith("no API endpoint")


@pytest.mark.parametrize(
    "interval, expected_from, expected_to, expected_totals",
    [
        # the range is widened to whole buckets of the interval, and says so
        (
            "hour",
            "2025-04-14T09:00:00.000Z",
            "2025-04-14T11:00:00.000Z",
            [{"label": "car", "count": 5}, {"label": "person", "count": 5}],
        ),
        (
            "minute",
            "2025-04-14T09:30:00.000Z",
            "2025-04-14T10:20:00.000Z",
            [{"label": "car", "count": 5}, {"label": "person", "count": 2}],
        ),
        (
            "day",
            "2025-04-14T00:00:00.000Z",
            "2025-04-15T00:00:00.000Z",
            [{"label": "person", "count": 9}, {"label": "car", "count": 5}, {"label": "traffic light", "count": 1}],
        ),
    ],
)
def test_totals_cover_whole_buckets_of_the_interval(api, interval, expected_from, expected_to, expected_totals):
    body = get(api, f"/api/totals?from=2025-04-14T09:30:00Z&to=2025-04-14T10:20:00Z&interval={interval}")
    assert (body["from"], body["to"]) == (expected_from, expected_to)
    assert body["totals"] == expected_totals


@pytest.mark.parametrize(
    "stored, expected",
    [
        ((Interval.MINUTE,), "minute"),  # no hours stored: minutes sum into hours exactly
        ((Interval.MINUTE, Interval.DAY), "minute"),
    ],
)
def test_finer_documents_answer_when_the_interval_is_not_stored(app_for, make_index, stored, expected):
    api = app_for(make_index(rolled_up(EVENTS, intervals=stored))).test_client()
    answer = api.get("/api/totals?from=now-24h")
    assert answer.headers["X-Stored-Interval"] == expected
    assert answer.get_json()["total"] == 16
    day = api.get("/api/timeline?label=car&from=2025-04-13T00:00:00Z&to=2025-04-15T00:00:00Z&interval=day")
    assert day.get_json() == {
        "car": [
            {"t": "2025-04-13T00:00:00.000Z", "y": 1, "state": "final"},
            {"t": "2025-04-14T00:00:00.000Z", "y": 5, "state": "final"},
        ]
    }


def test_only_coarser_documents_answer_in_their_own_buckets(app_for, make_index):
    api = app_for(make_index(rolled_up(EVENTS, intervals=(Interval.DAY,)))).test_client()
    answer = api.get("/api/timeline?label=person&from=2025-04-13T22:00:00Z&to=2025-04-14T02:00:00Z&interval=hour")
    assert answer.headers["X-Stored-Interval"] == "day"
    assert answer.headers["X-Interval"] == "day"  # a day's count cannot be split into hours
    assert answer.get_json() == {
        "person": [
            {"t": "2025-04-13T00:00:00.000Z", "y": 0, "state": "final"},
            {"t": "2025-04-14T00:00:00.000Z", "y": 9, "state": "final"},
        ]
    }
    totals = api.get("/api/totals?from=2025-04-13T22:00:00Z&to=2025-04-14T02:00:00Z&interval=hour").get_json()
    assert (totals["from"], totals["to"]) == ("2025-04-13T00:00:00.000Z", "2025-04-15T00:00:00.000Z")
    assert totals["total"] == 16


def test_missing_index(app_for, es_settings):
    # in the family the API's account may read: a missing index, not a forbidden one
    api = app_for(f"{es_settings.index}-test-frontend-missing-0123456789").test_client()
    health = api.get("/api/health")
    assert health.status_code == 503
    assert health.get_json()["status"] == "index missing"
    assert api.get("/api/totals").get_json()["total"] == 0
    # no batch run at all: every bucket is live (and, with no live index either, zero)
    assert get(api, "/api/timeline?label=car&from=now-3h&interval=hour") == {
        "car": [
            {"t": "2025-04-14T09:00:00.000Z", "y": 0, "state": "live"},
            {"t": "2025-04-14T10:00:00.000Z", "y": 0, "state": "live"},
            {"t": "2025-04-14T11:00:00.000Z", "y": 0, "state": "live"},
        ]
    }


def test_elasticsearch_unreachable_is_503(api_es_settings, counts_index):
    from simple_frontend.app import create_app
    from simple_frontend.settings import FrontendSettings

    closed_port = api_es_settings.replace(url="http://127.0.0.1:9")
    app = create_app({"FRONTEND_SETTINGS": FrontendSettings(elasticsearch=closed_port), "ES_INDEX": counts_index})
    api = app.test_client()
    assert get(api, "/api/totals", status=503) == {"error": "Elasticsearch is unreachable (ConnectionError)"}
    health = get(api, "/api/health", status=503)
    assert health["elasticsearch"] == "unreachable"


def test_wrong_password_is_503_and_says_so(api_es_settings, counts_index):
    from simple_frontend.app import create_app
    from simple_frontend.settings import FrontendSettings

    wrong = api_es_settings.replace(password="not-the-password")
    app = create_app({"FRONTEND_SETTINGS": FrontendSettings(elasticsearch=wrong), "ES_INDEX": counts_index})
    body = get(app.test_client(), "/api/label_counts", status=503)
    assert "refused the configured credentials" in body["error"]
    assert "not-the-password" not in body["error"]
