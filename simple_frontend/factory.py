"""The dashboard's Flask app factory, `create_app(config=None)`, for WSGI servers and tests:

    gunicorn -w 2 -k gthread --threads 8 -b 127.0.0.1:5001 'simple_frontend.app:create_app()'

`count-dashboard` (simple_frontend/cli.py) serves it with Flask's threaded server."""

from __future__ import annotations

import time
import weakref
from typing import Any, Mapping

from flask import Flask

from pipeline_common.clients import elasticsearch_client
from pipeline_common.contracts import live_index
from pipeline_common.timestamps import utc_now

from . import api, errors, gallery_api, metrics, openapi, views
from .cache import AnswerCache, RecentAnswer, RepeatedRequests
from .extension import KEY, Frontend
from .settings import FrontendSettings
from .store import CountsStore


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Config keys besides Flask's own (all optional):
    FRONTEND_SETTINGS  a FrontendSettings; else read from the environment and .env
    ES_CLIENT          an Elasticsearch client (or a fake); else one is made from the
                       settings, owned by this app and closed when the app goes away
    ES_INDEX           the index to read, overriding the settings' ES_INDEX
    ES_LIVE_INDEX_PREFIX  the live indices to read, overriding the settings' one
    CLOCK              a function returning the current UTC time (for tests)
    S3_CLIENT, S3_BUCKET  the gallery's S3 client and bucket; else made from the settings'
                       FRONTEND_S3_* keys (see gallery_api.register)
    TIMER              a monotonic clock in seconds for the caches' ages (for tests)"""
    config = dict(config or {})
    settings = config.get("FRONTEND_SETTINGS") or FrontendSettings.from_env()
    client = config.get("ES_CLIENT")
    owned = client is None
    if owned:
        client = elasticsearch_client(settings.elasticsearch)

    app = Flask("simple_frontend")
    app.config.update(config)
    app.json.sort_keys = False  # label order in answers means something (biggest first)
    timer = config.get("TIMER") or time.monotonic
    store = CountsStore(
        client,
        config.get("ES_INDEX") or settings.elasticsearch.index,
        live_index.index_pattern(config.get("ES_LIVE_INDEX_PREFIX") or settings.elasticsearch.live_index_prefix),
        max_staleness_s=settings.max_staleness_s,
        clock=timer,
    )
    # One client per app, not per request: closed once, when the app is garbage-collected
    # or the interpreter exits (or earlier through `Frontend.close`).
    close = weakref.finalize(app, client.close) if owned else (lambda: None)
    extension = Frontend(
        settings,
        store,
        config.get("CLOCK") or utc_now,
        close,
        AnswerCache(settings.cached_answers, timer=timer),
        RecentAnswer(settings.max_staleness_s, timer=timer),
    )
    app.extensions[KEY] = extension
    # the same request again, at the same generation, is answered before Flask routes it
    app.wsgi_app = RepeatedRequests(
        app.wsgi_app, extension.answers, store.generation, extension.minute, metrics.observe_repeat
    )
    app.register_blueprint(api.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(views.bp)
    gallery_api.register(app, settings, config)
    errors.register(app)
    metrics.register(app)
    return app
