"""The API against its own OpenAPI description, with Schemathesis generating the requests
(valid and invalid) against the live app and the real Elasticsearch: no input yields a
5xx, every answer matches the description. Plus the two defects found by hand: a
timeline of many labels x many buckets is a 400, and every source /api/sources lists
is accepted as a filter."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from simple_frontend.app import create_app

from .conftest import frontend_settings
from .sample_counts import EVENTS, NOW, rolled_up

# Sources are folder names: anything. Each must work as a filter (exact term value).
ODD_SOURCES = ["cam*", "Kamera Süd – Tor", '{"match_all": {}}', "front door's (2)", " padded ", "a OR b", "📷"]
ODD_EVENTS = [
    ("person", source, datetime(2025, 4, 14, 10, n, tzinfo=timezone.utc), n + 1, 1)
    for n, source in enumerate(ODD_SOURCES)
]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def schema_app(es, es_settings, api_es_settings):
    from .conftest import create_counts_index

    index = create_counts_index(es, rolled_up(EVENTS + ODD_EVENTS), es_settings.index)
    app = create_app({"FRONTEND_SETTINGS": frontend_settings(api_es_settings), "ES_INDEX": index, "CLOCK": lambda: NOW})
    yield app
    es.indices.delete(index=index, ignore_unavailable=True)


@pytest.fixture(scope="module")
def api_schema(schema_app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", schema_app)


def operations(api_schema) -> list:
    found = [result.ok() for result in api_schema.get_all_operations()]
    assert len(found) >= 8
    return found


# Schemathesis's pytest plugin does not load under pytest 9 (it reads a private attribute
# pytest dropped): each operation's strategy is driven by Hypothesis here instead, with a
# bounded number of examples per operation and generation mode.
@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
def test_no_input_yields_a_server_error_and_answers_match_the_description(api_schema, mode):
    for operation in operations(api_schema):
        if mode is schemathesis.GenerationMode.NEGATIVE and not operation.query:
            continue  # nothing to get wrong

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate(checks=CHECKS)

        check()


def test_the_description_is_served(schema_app):
    answer = schema_app.test_client().get("/api/openapi.json")
    assert answer.status_code == 200
    paths = answer.get_json()["paths"]
    assert {"/api/timeline", "/api/totals", "/api/sources", "/api/health"} <= set(paths)


def test_every_source_the_api_lists_is_accepted_as_a_filter(schema_app):
    client = schema_app.test_client()
    sources = client.get("/api/sources").get_json()["sources"]
    assert set(ODD_SOURCES) <= set(sources)
    for n, source in enumerate(ODD_SOURCES):
        answer = client.get(f"/api/totals?from=2025-04-14T00:00:00Z&source={quote(source)}")
        assert answer.status_code == 200, (source, answer.get_json())
        assert answer.get_json()["total"] == n + 1, source  # exactly that source's count, nothing more


def test_a_timeline_over_the_total_bucket_cap_is_a_400_not_a_5xx(schema_app):
    client = schema_app.test_client()
    # 50 labels x 1440 minute buckets = 72 000, over Elasticsearch's search.max_buckets (65 536)
    answer = client.get("/api/timeline?from=now-24h&interval=minute&n=50")
    assert answer.status_code == 400
    assert "50 label(s) x 1440 minute buckets" in answer.get_json()["error"]
    assert client.get("/api/timeline?from=now-24h&interval=minute&n=10").status_code == 200
