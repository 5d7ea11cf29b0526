"""`count-dashboard` (also `python -m simple_frontend`, `python simple_frontend/app.py`):
serve the dashboard with Flask's threaded server (127.0.0.1:5001 by default)."""

from __future__ import annotations

import argparse
import logging

from pipeline_common.environment import SettingsError
from pipeline_common.logs import configure_logging
from pipeline_common.metrics import serve_metrics

from .factory import create_app
from .settings import FrontendSettings

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="count-dashboard",
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
    serve_metrics(settings.metrics)
    log.info("serving index %s on http://%s:%s", settings.elasticsearch.index, settings.host, settings.port)
    app.run(host=settings.host, port=settings.port, threaded=True)
    return 0
