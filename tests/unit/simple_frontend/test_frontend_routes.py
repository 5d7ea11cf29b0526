"""The Flask routes with a fake Elasticsearch client: shapes, status codes, errors."""
import pytest
from elastic_transport import ApiResponseMeta, ConnectionError as TransportConnectionError, HttpHeaders, NodeConfig
from elasticsearch import AuthenticationException

from simple_frontend.app import create_app
from simple_frontend.extension import KEY


def meta(status):
    return ApiResponseMeta(status=status, http_version="1.1", headers=HttpHeaders(), duration=0.0,
                           node=NodeConfig("http", "127.0.0.1", 9200))


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
    answer = client.get("/api/timeline?label=car&label=dog&from=2025-04-01T00:00:00Z"
                        "&to=2025-04-01T02:00:00Z&interval=hour")
    assert answer.status_code == 200
    assert answer.get_json() == {
        "car": [{"t": "2025-04-01T00:00:00.000Z", "y": 0}, {"t": "2025-04-01T01:00:00.000Z", "y": 3}],
        "dog": [{"t": "2025-04-01T00:00:00.000Z", "y": 0}, {"t": "2025-04-01T01:00:00.000Z", "y": 0}],
    }
    assert answer.headers["X-Interval"] == "hour"


def test_timeline_keeps_label_order(client, fake_es):
    fake_es.label_totals = [("zebra", 9), ("apple", 1)]
    answer = client.get("/api/timeline")
    assert list(answer.get_json()) == ["zebra", "apple"]


def test_totals(client):
    answer = client.get("/api/totals?from=now-1h&metric=images")
    body = answer.get_json()
    assert body["total"] == 9
    assert body["totals"] == [{"label": "person", "count": 7}, {"label": "car", "count": 2}]
    assert body["metric"] == "images"
    # widened to whole hours (the default interval)
    assert body["from"] == "2025-04-14T08:00:00.000Z"
    assert body["to"] == "2025-04-14T10:00:00.000Z"


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
        ("/api/timeline?label=*", "label: expected letters"),
        ("/api/timeline?label=%7B%22match_all%22%3A%7B%7D%7D", "label: expected letters"),
        ("/api/totals?from=yesterday", "from: expected an ISO-8601 time"),
        ("/api/totals?to=now-2d", "from must be earlier than to"),
        ("/api/top?n=0", "n: expected a whole number from 1 to 50; got '0'"),
        ("/api/top?n=51", "got '51'"),
        ("/api/top?label=car", "unknown parameter 'label'"),
        ("/api/totals?source=cam*", "source: expected letters"),
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
        (["minute", "hour", "day"], "/api/top", "hour"),
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
