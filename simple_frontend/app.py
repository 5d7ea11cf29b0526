"""The dashboard's Flask app: `create_app(config=None)` for WSGI servers and tests,
`main()` to serve it with Flask's threaded server (127.0.0.1:5001 by default).

    python simple_frontend/app.py --help
    gunicorn -w 2 -k gthread --threads 8 -b 127.0.0.1:5001 'simple_frontend.app:create_app()'
"""
from __future__ import annotations

import argparse
import logging
import sys
import weakref
from typing import Any, Mapping

from flask import Flask

from pipeline_common.clients import elasticsearch_client
from pipeline_common.environment import SettingsError
from pipeline_common.logs import configure_logging
from pipeline_common.timestamps import utc_now
# Absolute imports: this file also runs as a script (python simple_frontend/app.py).
from simple_frontend import api, errors, views
from simple_frontend.extension import KEY, Frontend
from simple_frontend.settings import FrontendSettings
from simple_frontend.store import CountsStore

log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Config keys besides Flask's own (all optional):
    FRONTEND_SETTINGS  a FrontendSettings; else read from the environment and .env
    ES_CLIENT          an Elasticsearch client (or a fake); else one is made from the
                       settings, owned by this app and closed when the app goes away
    ES_INDEX           the index to read, overriding the settings' ES_INDEX
    CLOCK              a function returning the current UTC time (for tests)"""
    config = dict(config or {})
    settings = config.get("FRONTEND_SETTINGS") or FrontendSettings.from_env()
    client = config.get("ES_CLIENT")
    owned = client is None
    if owned:
        client = elasticsearch_client(settings.elasticsearch)

    app = Flask("simple_frontend")
    app.config.update(config)
    app.json.sort_keys = False  # label order in answers means something (biggest first)
    store = CountsStore(
        client,
        config.get("ES_INDEX") or settings.elasticsearch.index,
        intervals_cache_seconds=settings.intervals_cache_seconds,
    )
    # One client per app, not per request: closed once, when the app is garbage-collected
    # or the interpreter exits (or earlier through `Frontend.close`).
    close = weakref.finalize(app, client.close) if owned else (lambda: None)
    app.extensions[KEY] = Frontend(settings, store, config.get("CLOCK") or utc_now, close)
    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    errors.register(app)
    return app


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Serve the object-count dashboard and its JSON API (Flask's threaded server; "
        "use gunicorn for production, see simple_frontend/README.md).",
    )
    parser.add_argument("--host", help="address to listen on (default: FRONTEND_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: FRONTEND_PORT or 5001)")
    parser.add_argument("--index", help="Elasticsearch index to read (default: ES_INDEX)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.verbose)
    try:
        settings = FrontendSettings.from_env(host=args.host, port=args.port, elasticsearch={"index": args.index})
    except SettingsError as error:
        log.error("configuration error: %s", error)
        return 2
    app = create_app({"FRONTEND_SETTINGS": settings})
    log.info("serving index %s on http://%s:%s", settings.elasticsearch.index, settings.host, settings.port)
    app.run(host=settings.host, port=settings.port, threaded=True)
    return 0


if __name__ == "__main__":
    # Run through the package module so the app's code is imported only once.
    from simple_frontend.app import main as package_main

    sys.exit(package_main())
