"""Errors as JSON: what went wrong, in words a dashboard user can act on."""

from __future__ import annotations

import logging

from elastic_transport import TransportError
from elasticsearch import ApiError
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from .params import ParamError

log = logging.getLogger(__name__)


def describe_elasticsearch_error(error: Exception) -> tuple[int, str]:
    """(HTTP status, message) for a failed Elasticsearch call. Details that would help
    an attacker more than a user (URLs, stack traces) go to the log only."""
    if isinstance(error, ApiError):
        if error.status_code in (401, 403):
            return 503, "Elasticsearch refused the configured credentials (ES_USERNAME/ES_PASSWORD)"
        return 502, f"Elasticsearch answered with an error ({error.status_code} {error.error})"
    return 503, f"Elasticsearch is unreachable ({type(error).__name__})"


def _json_error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status


def register(app: Flask) -> None:
    @app.errorhandler(ParamError)
    def bad_parameter(error: ParamError):
        return _json_error(400, str(error))

    @app.errorhandler(TransportError)
    @app.errorhandler(ApiError)
    def elasticsearch_failed(error: Exception):
        status, message = describe_elasticsearch_error(error)
        log.warning("%s %s failed: %s: %s", request.method, request.path, type(error).__name__, error)
        return _json_error(status, message)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        # Pages keep Flask's HTML errors; the API always answers JSON.
        if not request.path.startswith("/api/") and request.path != "/api":
            return error
        message = {404: f"no API endpoint {request.path}; see simple_frontend/README.md"}.get(
            error.code, error.description
        )
        return _json_error(error.code or 500, message)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("%s %s failed", request.method, request.path)
        if request.path.startswith("/api/"):
            return _json_error(500, f"internal error ({type(error).__name__}); see the server log")
        return Response("internal error; see the server log", status=500, mimetype="text/plain")
