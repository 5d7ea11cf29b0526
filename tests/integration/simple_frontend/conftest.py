"""Indexes of known object counts in the real Elasticsearch (written directly with the
ES client, one fresh index per module or test), and apps serving them."""

from __future__ import annotations

import uuid

import pytest
from elasticsearch.helpers import bulk

from simple_frontend.app import create_app
from simple_frontend.settings import FrontendSettings

from .browser_support import browser  # noqa: F401 - the browser tests' fixture
from .gallery_support import dashboard_s3_settings, gallery_live_prefix, stored  # noqa: F401 - the gallery's fixtures
from .sample_counts import EVENTS, MAPPING, NOW, rolled_up


def create_counts_index(es, documents, family: str = "hadoop-object-counts-v1") -> str:
    """A fresh index in `family` (ES_INDEX*: the API's own account may read it)."""
    index = f"{family}-test-frontend-{uuid.uuid4().hex[:10]}"
    es.indices.create(index=index, mappings=MAPPING, settings={"number_of_shards": 1, "number_of_replicas": 0})
    actions = ({"_index": index, "_source": document} for document in documents)
    ok, errors = bulk(es, actions, refresh="wait_for")
    assert not errors and ok == len(documents)
    return index


@pytest.fixture(scope="module")
def counts_index(es, es_settings):
    index = create_counts_index(es, rolled_up(EVENTS), es_settings.index)
    yield index
    es.indices.delete(index=index, ignore_unavailable=True)


@pytest.fixture
def make_index(es, es_settings):
    """make_index(documents) -> name of a fresh index holding them; deleted afterwards."""
    made = []

    def make(documents) -> str:
        made.append(create_counts_index(es, documents, es_settings.index))
        return made[-1]

    yield make
    for index in made:
        es.indices.delete(index=index, ignore_unavailable=True)


def frontend_settings(api_es_settings, **overrides) -> FrontendSettings:
    # Live indices nobody writes (in the live family, so the API's account may look): the
    # stack's own live indices (the demo's) stay out of these tests' answers.
    no_live = f"{api_es_settings.live_index_prefix}test-frontend-{uuid.uuid4().hex[:10]}-"
    return FrontendSettings(elasticsearch=api_es_settings.replace(live_index_prefix=no_live), **overrides)


@pytest.fixture
def app_for(api_es_settings):
    """app_for(index, **settings) -> a Flask app with its own real ES client."""

    def make(index: str, **overrides):
        return create_app(
            {
                "FRONTEND_SETTINGS": frontend_settings(api_es_settings, **overrides),
                "ES_INDEX": index,
                "CLOCK": lambda: NOW,
            }
        )

    return make


@pytest.fixture(scope="module")
def api(api_es_settings, counts_index):
    app = create_app(
        {"FRONTEND_SETTINGS": frontend_settings(api_es_settings), "ES_INDEX": counts_index, "CLOCK": lambda: NOW}
    )
    return app.test_client()
