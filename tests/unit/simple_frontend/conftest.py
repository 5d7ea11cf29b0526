"""The Flask app over a fake Elasticsearch client (tests.support.fakes.FakeElasticsearch),
which records the requests and answers each kind of body with a canned answer."""

from datetime import datetime, timezone

import pytest

from pipeline_common.settings import FrontendElasticsearchSettings
from simple_frontend.app import create_app
from simple_frontend.settings import FrontendSettings
from tests.support.fakes import FakeElasticsearch

NOW = datetime(2025, 4, 14, 9, 30, tzinfo=timezone.utc)


@pytest.fixture
def fake_es():
    return FakeElasticsearch()


@pytest.fixture
def settings():
    return FrontendSettings(
        elasticsearch=FrontendElasticsearchSettings(url="http://127.0.0.1:1", username="api", password="unused"),
        max_buckets=2000,
        max_total_buckets=2000,
        # The fake changes its answers between requests without a generation to tell: no
        # answer cache here (tests/unit/simple_frontend/test_frontend_cache_export.py and the
        # integration tests cover it).
        cached_answers=0,
    )


@pytest.fixture
def app(fake_es, settings):
    return create_app(
        {"FRONTEND_SETTINGS": settings, "ES_CLIENT": fake_es, "CLOCK": lambda: NOW, "ES_INDEX": "counts-test"}
    )


@pytest.fixture
def client(app):
    return app.test_client()
