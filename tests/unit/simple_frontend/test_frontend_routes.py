"""The Flask routes with a fake Elasticsearch client: shapes, status codes, errors."""

import pytest
from elastic_transport import ApiResponseMeta, ConnectionError as TransportConnectionError, HttpHeaders, NodeConfig
from elasticsearch import AuthenticationException

from simple_frontend.app import create_app
from simple_frontend.extension import KEY
from tests.unit.simple_frontend.conftest import NOW


def meta(status):
    return ApiResponseMeta(
        status=status,
        http_version="1.1",
        headers=HttpHeaders(),
        duration=0.0,
        node=NodeConfig("http", "127.0.0.1", 9200),
    )


def test_label_counts_keeps_the_original_shape(client, fake_es):
    answer = client.get("/api/label_counts?from=now-7d")
    assert answer.status_code == 200
    assert answer.get_json() == {"labels": ["person", "car"], "counts": [7, 2]}
    body = fake_es.searches()[0]
    assert body["query"]["bool"]["filter"][0] == {"term": {"interval": "hour"}}
    assert answer.headers["X-Stored-Interval"] == "hour"
    assert answer.headers["X-Range-From"] == "2025-04-07T09:00:00.000Z"


def test_count_specific_keeps_the_original_shape(client, fake_es):
    fake_es.label_totals = [("car", 2)]
    answer = client.get("/api/count_specific?label=car&from=2025-04-01&to=2025-04-02")
    assert answer.get_json() == {"label": "car", "count_in_range": 2}
    filters = fake_es.searches()[0]["query"]["bool"]["filter"]
    assert {"terms": {"label": ["car"]}} in filters


@pytest.mark.parametrize("query", ["", "?label=car&label=dog"])
def test_count_specific_needs_exactly_one_label(client, query):
    answer = client.get("/api/count_specific" + query)
    assert answer.status_code == 400
    assert "expected exactly one label" in answer.get_json()["error"]


def test_timeline_keeps_the_original_shape(client, fake_es):
    fake_es.label_totals = [("car", 3)]
    fake_es.timeline_buckets = {"car": [(1743465600000, 0), (1743469200000, 3)]}
    answer = client.get(
        "/api/timeline?label=car&label=dog&from=2025-04-01T00:00:00Z&to=2025-04-01T02:00:00Z&interval=hour"
    )
    assert answer.status_code == 200
    # each bucket says whether it is final (here: the batch run covers the whole range)
    final = {"state": "final"}
    assert answer.get_json() == {
        "car": [{"t": "2025-04-01T00:00:00.000Z", "y": 0, **final}, {"t": "2025-04-01T01:00:00.000Z", "y": 3, **final}],
        "dog": [{"t": "2025-04-01T00:00:00.000Z", "y": 0, **final}, {"t": "2025-04-01T01:00:00.000Z", "y": 0, **final}],
    }
    assert answer.headers["X-Interval"] == "hour"


def test_timeline_keeps_label_order(client, fake_es):
    fake_es.label_totals = [("zebra", 9), ("apple", 1)]
    answer = client.get("/api/timeline")
    assert list(answer.get_json()) == ["zebra", "apple"]


def test_totals(client):
    answer = client.get("/api/totals?from=now-1h&metric=images&interval=hour")
    body = answer.get_json()
    assert body["total"] == 9
    assert body["totals"] == [{"label": "person", "count": 7}, {"label": "car", "count": 2}]
    assert body["metric"] == "images"
    # widened to whole hours (the interval asked for)
    assert body["from"] == "2025-04-14T08:00:00.000Z"
    assert body["to"] == "2025-04-14T10:00:00.000Z"
    assert (body["interval"], body["interval_chosen"]) == ("hour", False)
    # no interval: the finest that fits the bucket cap, minutes, and no widening
    chosen = client.get("/api/totals?from=now-1h&metric=images").get_json()
    assert (chosen["interval"], chosen["interval_chosen"]) == ("minute", True)
    assert (chosen["from"], chosen["to"]) == ("2025-04-14T08:30:00.000Z", "2025-04-14T09:30:00.000Z")


def test_top(client, fake_es):
    answer = client.get("/api/top?n=2")
    assert answer.get_json()["top"][0] == {"label": "person", "count": 7}
    assert fake_es.searches()[0]["aggs"]["labels"]["terms"]["size"] == 2


def test_labels_and_sources(client, fake_es):
    assert client.get("/api/labels").get_json() == {"labels": ["car", "person"]}
    fake_es.values = ["cam1"]
    assert client.get("/api/sources?from=now-1d").get_json() == {"sources": ["cam1"]}


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("/api/timeline?interval=week", "interval: expected one of minute, hour, day; got 'week'"),
        ("/api/timeline?from=now-30d&interval=minute", "minute buckets; at most 2000 are allowed"),
        ("/api/timeline?label=", "label: expected a name"),
        ("/api/timeline?from=now-2d&interval=hour&n=50", "50 label(s) x 49 hour buckets = 2450 points; at most 2000"),
        ("/api/totals?from=yesterday", "from: expected an ISO-8601 time"),
        ("/api/totals?to=now-2d", "from must be earlier than to"),
        ("/api/top?n=0", "n: expected a whole number from 1 to 50; got '0'"),
        ("/api/top?n=51", "got '51'"),
        ("/api/top?label=car", "unknown parameter 'label'"),
        ("/api/totals?source=" + "x" * 1001, "source: at most 1000 characters"),
        ("/api/totals?metric=score", "metric: expected one of detections, images"),
        ("/api/health?verbose=1", "unknown parameter 'verbose'"),
        ("/api/labels?from=now-1h&from=now-2h", "from: given 2 times"),
    ],
)
def test_bad_parameters_get_400_and_reach_no_search(client, fake_es, url, fragment):
    answer = client.get(url)
    assert answer.status_code == 400
    assert fragment in answer.get_json()["error"]
    assert fake_es.searches() == []


def test_unknown_api_route_is_json_404(client):
    answer = client.get("/api/nope")
    assert answer.status_code == 404
    assert "no API endpoint /api/nope" in answer.get_json()["error"]


def test_wrong_method_is_json_405(client):
    answer = client.post("/api/totals")
    assert answer.status_code == 405
    assert "error" in answer.get_json()


def test_elasticsearch_unreachable_is_503(client, fake_es):
    fake_es.error = TransportConnectionError("connection refused")
    answer = client.get("/api/totals")
    assert answer.status_code == 503
    assert answer.get_json() == {"error": "Elasticsearch is unreachable (ConnectionError)"}


def test_wrong_credentials_are_503_without_secrets(client, fake_es):
    fake_es.error = AuthenticationException("unauthorized", meta(401), {"error": "bad"})
    answer = client.get("/api/label_counts")
    assert answer.status_code == 503
    assert "refused the configured credentials" in answer.get_json()["error"]


def test_health_ok(client):
    answer = client.get("/api/health")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "ok"
    assert body["index"] == "counts-test"
    assert body["newest_bucket"] == "2025-04-01T23:00:00.000Z"
    assert body["stored_intervals"] == ["minute", "hour", "day"]


def test_health_reports_the_last_batch_run_and_its_age(settings, fake_es):
    # the answer is made afresh on every call (it is otherwise reused for a few seconds)
    client = create_app(
        {
            "FRONTEND_SETTINGS": settings.replace(max_staleness_s=0),
            "ES_CLIENT": fake_es,
            "CLOCK": lambda: NOW,
            "ES_INDEX": "counts-test",
        }
    ).test_client()
    assert client.get("/api/health").get_json()["batch"] == {
        "runs_index": "pipeline-batch-runs",
        "last_run": None,
        "last_success": None,
    }
    fake_es.batch_runs = [
        {
            "run_id": "20250414T091500Z",
            "kind": "incremental",
            "outcome": "failed",
            "trigger": "schedule",
            "started_at": "2025-04-14T09:15:00.000Z",
            "finished_at": "2025-04-14T09:16:00.000Z",
            "reason": "aggregation exited with code 1",
        },
        {
            "run_id": "20250414T090000Z",
            "kind": "full",
            "outcome": "success",
            "trigger": "catch-up",
            "started_at": "2025-04-14T09:00:00.000Z",
            "finished_at": "2025-04-14T09:01:30.000Z",
            "aggregation": {"mode": "full", "objects_listed": 12, "objects_read": 12},
        },
    ]
    batch = client.get("/api/health").get_json()["batch"]
    assert batch["last_run"]["outcome"] == "failed"
    assert batch["last_run"]["age_s"] == 14 * 60  # NOW is 09:30, it finished at 09:16
    assert batch["last_success"]["run_id"] == "20250414T090000Z"
    assert batch["last_success"]["objects_read"] == 12
    assert batch["last_success"]["age_s"] == 28.5 * 60


def test_health_index_missing(client, fake_es):
    fake_es.index_exists = False
    answer = client.get("/api/health")
    assert answer.status_code == 503
    assert answer.get_json()["status"] == "index missing"


def test_health_elasticsearch_down(client, fake_es):
    fake_es.error = TransportConnectionError("connection refused")
    answer = client.get("/api/health")
    assert answer.status_code == 503
    assert answer.get_json()["elasticsearch"] == "unreachable"


def test_stored_intervals_are_cached_between_requests(client, fake_es):
    client.get("/api/totals")
    client.get("/api/top")
    lookups = [body for kind, _, body in fake_es.calls if kind == "search" and "intervals" in body["aggs"]]
    assert len(lookups) == 1


@pytest.mark.parametrize(
    "stored, url, expected",
    [
        (["minute", "hour", "day"], "/api/timeline?interval=day&from=now-7d", "day"),
        (["minute", "hour", "day"], "/api/totals?interval=minute&from=now-1h", "minute"),
        (["minute", "hour", "day"], "/api/top", "minute"),  # no interval: the finest that fits 24 hours
        (["minute", "hour"], "/api/timeline?interval=day&from=now-7d", "hour"),
        (["day"], "/api/timeline?interval=hour&from=now-7d", "day"),
    ],
)
def test_one_stored_interval_is_read(client, fake_es, stored, url, expected):
    fake_es.intervals = stored
    answer = client.get(url)
    assert answer.headers["X-Stored-Interval"] == expected
    (body,) = fake_es.searches()
    filters = body["query"]["bool"]["filter"]
    assert [f for f in filters if "interval" in f.get("term", {})] == [{"term": {"interval": expected}}]


def test_coarser_stored_counts_answer_in_their_own_buckets(client, fake_es):
    fake_es.intervals = ["day"]
    answer = client.get("/api/timeline?interval=hour&from=2025-04-10T05:00:00Z&to=2025-04-12T05:00:00Z")
    assert answer.headers["X-Interval"] == "day"
    assert answer.headers["X-Buckets"] == "3"
    assert answer.headers["X-Range-From"] == "2025-04-10T00:00:00.000Z"
    histogram = fake_es.searches()[0]["aggs"]["labels"]["aggs"]["timeline"]["date_histogram"]
    assert histogram["calendar_interval"] == "1d"


def test_a_given_client_is_not_closed_by_the_app(client, app, fake_es):
    client.get("/api/totals")
    app.extensions[KEY].close()
    assert not fake_es.closed


def test_own_client_is_closed_with_the_app_not_per_request(settings, fake_es, monkeypatch):
    import gc

    import simple_frontend.factory as app_module

    made = []
    monkeypatch.setattr(app_module, "elasticsearch_client", lambda es_settings: made.append(es_settings) or fake_es)
    app = create_app({"FRONTEND_SETTINGS": settings})
    assert made == [settings.elasticsearch]
    client = app.test_client()
    for _ in range(3):
        assert client.get("/api/totals").status_code == 200
    assert not fake_es.closed
    del client, app
    gc.collect()
    assert fake_es.closed


def test_dashboard_page_loads_local_libraries_only(client):
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in ("chart.umd.min.js", "moment.min.js", "chartjs-adapter-moment.min.js"):
        assert f'src="/vendor/{name}"' in html
    assert "https://" not in html and "http://" not in html


def test_vendor_serves_only_known_files(client):
    assert client.get("/vendor/../package.json").status_code == 404
    assert client.get("/vendor/package.json").status_code == 404


# --- batch and live merged ---------------------------------------------------------------
# NOW is 2025-04-14T09:30Z; a run that started at 07:02 with the default 5 min lateness
# makes the batch answer until 06:00 (the start of the hour holding 06:57).
RUN_0702 = "20250414T070200Z"
H = 3600_000
APR14 = 1744588800000  # 2025-04-14T00:00Z in epoch millis


def test_the_range_after_the_cutoff_is_read_from_the_live_indices(client, fake_es):
    fake_es.runs = [RUN_0702]
    fake_es.label_totals = [("car", 3)]
    fake_es.live_totals = [("car", 2), ("dog", 4)]
    answer = client.get("/api/totals?from=2025-04-14T00:00:00Z&to=2025-04-14T09:00:00Z&interval=hour")
    body = answer.get_json()
    assert body["totals"] == [{"label": "car", "count": 5}, {"label": "dog", "count": 4}]
    assert body["total"] == 9
    assert body["final_until"] == "2025-04-14T06:00:00.000Z" and body["batch_run"] == RUN_0702
    assert body["live"] is True
    assert answer.headers["X-Final-Until"] == "2025-04-14T06:00:00.000Z"
    (batch,) = fake_es.searches()
    (live,) = fake_es.searches(live=True)
    assert batch["query"]["bool"]["filter"][1] == {
        "range": {"bucket_start": {"gte": "2025-04-14T00:00:00.000Z", "lt": "2025-04-14T06:00:00.000Z"}}
    }
    assert live["query"]["bool"]["filter"] == [
        {"range": {"captured_at": {"gte": "2025-04-14T06:00:00.000Z", "lt": "2025-04-14T09:00:00.000Z"}}}
    ]
    nested = live["aggs"]["live"]
    assert nested["nested"] == {"path": "counts"}
    assert nested["aggs"]["in"]["aggs"]["total"] == {"sum": {"field": "counts.detections"}}


def test_a_range_wholly_before_the_cutoff_never_reads_the_live_indices(client, fake_es):
    fake_es.runs = [RUN_0702]
    answer = client.get("/api/totals?from=2025-04-13T00:00:00Z&to=2025-04-14T06:00:00Z")
    assert answer.get_json()["live"] is False
    assert answer.headers["X-Live"] == "false"
    assert fake_es.searches(live=True) == []


def test_before_any_batch_run_everything_is_live(client, fake_es):
    fake_es.runs = []
    fake_es.live_totals = [("person", 4)]
    answer = client.get("/api/label_counts?from=now-24h")
    assert answer.get_json() == {"labels": ["person"], "counts": [4]}  # the original shape
    assert answer.headers["X-Final-Until"] == "none" and answer.headers["X-Live"] == "true"
    assert fake_es.searches() == []


def test_timeline_marks_live_buckets_and_adds_both_parts(client, fake_es):
    fake_es.runs = [RUN_0702]
    fake_es.label_totals = [("car", 3)]
    fake_es.timeline_buckets = {"car": [(APR14 + 4 * H, 1), (APR14 + 5 * H, 2)]}
    fake_es.live_totals = [("car", 6)]
    fake_es.live_timeline = {"car": [(APR14 + 6 * H, 5), (APR14 + 8 * H, 1)]}
    answer = client.get("/api/timeline?label=car&from=2025-04-14T04:00:00Z&to=2025-04-14T09:00:00Z&interval=hour")
    assert answer.get_json()["car"] == [
        {"t": "2025-04-14T04:00:00.000Z", "y": 1, "state": "final"},
        {"t": "2025-04-14T05:00:00.000Z", "y": 2, "state": "final"},
        {"t": "2025-04-14T06:00:00.000Z", "y": 5, "state": "live"},
        {"t": "2025-04-14T07:00:00.000Z", "y": 0, "state": "live"},
        {"t": "2025-04-14T08:00:00.000Z", "y": 1, "state": "live"},
    ]
    (live,) = fake_es.searches(live=True)
    histogram = live["aggs"]["live"]["aggs"]["in"]["aggs"]["labels"]["aggs"]["timeline"]["date_histogram"]
    assert histogram["field"] == "counts.captured_at"
    assert histogram["extended_bounds"]["min"] == APR14 + 6 * H  # zero-filled from the cutoff only


def test_timeline_without_labels_takes_the_busiest_of_both_parts_together(client, fake_es):
    fake_es.runs = [RUN_0702]
    fake_es.label_totals = [("car", 5), ("person", 4)]
    fake_es.live_totals = [("dog", 8), ("person", 3)]
    answer = client.get("/api/timeline?from=2025-04-14T00:00:00Z&to=2025-04-14T09:00:00Z&n=2&interval=hour")
    # person 7, dog 8, car 5: the two busiest overall, though neither part alone ranks them so
    assert list(answer.get_json()) == ["dog", "person"]
    batch_timeline = [b for b in fake_es.searches() if "timeline" in b["aggs"]["labels"]["aggs"]]
    (body,) = batch_timeline
    assert {"terms": {"label": ["dog", "person"]}} in body["query"]["bool"]["filter"]


def test_top_merges_more_than_n_of_each_part(client, fake_es):
    fake_es.runs = [RUN_0702]
    fake_es.label_totals = [("car", 5), ("person", 4), ("bird", 1)]
    fake_es.live_totals = [("bird", 9)]
    body = client.get("/api/top?from=2025-04-14T00:00:00Z&to=2025-04-14T09:00:00Z&n=1&interval=hour").get_json()
    assert body["top"] == [{"label": "bird", "count": 10}]
    assert all(b["aggs"]["labels"]["terms"]["size"] > 1 for b in fake_es.searches())


def test_labels_and_sources_of_all_time_join_both_parts(client, fake_es):
    fake_es.runs = [RUN_0702]
    fake_es.values = ["car", "person"]
    fake_es.live_values = ["dog", "car"]
    assert client.get("/api/labels").get_json() == {"labels": ["car", "dog", "person"]}
    (live,) = fake_es.searches(live=True)
    assert live["query"]["bool"]["filter"] == [{"range": {"captured_at": {"gte": "2025-04-14T06:00:00.000Z"}}}]


def test_health_reports_the_batch_cutoff_and_the_live_images(client, fake_es):
    fake_es.runs = [RUN_0702]
    fake_es.live_images = 12
    body = client.get("/api/health").get_json()
    assert body["coverage"]["hour"] == {"run_id": RUN_0702, "final_until": "2025-04-14T06:00:00.000Z"}
    assert body["live"]["images"] == 12


def test_health_is_ok_on_live_counts_before_the_first_batch_run(client, fake_es):
    fake_es.index_exists = False
    fake_es.live_images = 3
    answer = client.get("/api/health")
    assert answer.status_code == 200
    assert "every count is live" in answer.get_json()["note"]


def test_batch_and_live_are_asked_in_one_round_trip_and_a_failed_part_is_an_error(client, fake_es):
    fake_es.runs = [RUN_0702]
    url = "/api/totals?from=2025-04-14T00:00:00Z&to=2025-04-14T09:00:00Z&interval=hour"
    assert client.get(url).status_code == 200
    assert [kind for kind, _, _ in fake_es.calls if kind == "msearch"] == ["msearch"]
    fake_es.live_failure = {"error": {"type": "search_phase_execution_exception"}, "status": 400}
    answer = client.get(url)
    assert answer.status_code == 502
    assert "search_phase_execution_exception" in answer.get_json()["error"]


SHARD_STARTING = {"error": {"type": "search_phase_execution_exception", "reason": "all shards failed"}, "status": 503}


def test_a_live_index_whose_shard_is_still_starting_is_asked_again(client, fake_es):
    fake_es.runs = [RUN_0702]
    fake_es.live_failure, fake_es.live_failures_left = SHARD_STARTING, 2
    url = "/api/totals?from=2025-04-14T00:00:00Z&to=2025-04-14T09:00:00Z&interval=hour"
    assert client.get(url).status_code == 200
    assert [kind for kind, _, _ in fake_es.calls if kind == "msearch"] == ["msearch"] * 3


def test_a_live_index_that_stays_unavailable_is_reported(client, fake_es):
    fake_es.runs = [RUN_0702]
    fake_es.live_failure = SHARD_STARTING
    answer = client.get("/api/totals?from=2025-04-14T00:00:00Z&to=2025-04-14T09:00:00Z&interval=hour")
    assert answer.status_code in (502, 503)
    assert "search_phase_execution_exception" in answer.get_json()["error"]


def test_request_latency_is_recorded_per_route_pattern_never_per_raw_path(client):
    from prometheus_client import REGISTRY

    def count(endpoint: str, status: str) -> float:
        labels = {"endpoint": endpoint, "method": "GET", "status": status}
        return REGISTRY.get_sample_value("pipeline_api_request_seconds_count", labels) or 0

    health, unmatched = count("/api/health", "200"), count("<unmatched>", "404")
    assert client.get("/api/health").status_code == 200
    assert client.get("/no/such/page/12345").status_code == 404
    assert count("/api/health", "200") == health + 1
    assert count("<unmatched>", "404") == unmatched + 1


def test_an_interval_chosen_for_a_timeline_fits_the_total_bucket_cap(client):
    # 50 labels under a total of 2000 points: at most 40 buckets each, so a week is in days
    answer = client.get("/api/timeline?from=now-7d&n=50")
    assert answer.status_code == 200, answer.get_json()
    assert answer.headers["X-Interval"] == "day"


def test_a_live_only_search_whose_shard_is_still_starting_is_asked_again(client, fake_es):
    # before the first batch run the live indices are searched alone, not through msearch:
    # the 503 comes as the client's ApiError, after retries too quick for a starting shard
    fake_es.runs = []
    fake_es.live_failure, fake_es.live_failures_left = SHARD_STARTING, 2
    answer = client.get("/api/totals?from=2025-04-14T00:00:00Z&to=2025-04-14T09:00:00Z&interval=hour")
    assert answer.status_code == 200, answer.get_json()
    assert fake_es.live_failures_left == 0
