"""The API's OpenAPI 3.1 description, served at /api/openapi.json. Schemathesis reads it
to test the live app (tests/integration/simple_frontend/test_api_schema.py): every
answer must match what is described here, and no input may yield a 5xx.

Each route is described once, in `PATHS`; a new route adds its entry with `describe`
(its parameters from the shared ones below), so the description never lags the app."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from .params import MAX_NAME_LENGTH, MAX_NAMES, MAX_TOP, METRICS

bp = Blueprint("openapi", __name__, url_prefix="/api")

VERSION = "1.0.0"


def _query(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description, **extra}


_NAMES = {
    "type": "array",
    "maxItems": MAX_NAMES,
    "items": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_LENGTH},
}
PARAMETERS: dict[str, dict[str, Any]] = {
    "from": _query(
        "from",
        {"type": "string"},
        "Start: ISO-8601 (2025-04-14T09:30:00Z) or now, now-15m, now-24h, "
        "now-7d, now-2w; default now-24h (labels/sources: no range).",
    ),
    "to": _query("to", {"type": "string"}, "End (excluded), same forms; default now."),
    "interval": _query(
        "interval",
        {"type": "string", "enum": ["minute", "hour", "day"]},
        "Bucket size; default: the finest that fits the bucket cap (X-Interval says which, X-Interval-Chosen: true).",
    ),
    "format": _query(
        "format",
        {"type": "string", "enum": ["json", "csv"]},
        "json (default) or csv: the same numbers as a table with a header.",
    ),
    "limit": _query("limit", {"type": "integer", "minimum": 1, "maximum": 100}, "How many; default 20."),
    "label": _query("label", _NAMES, "Labels (repeat the parameter for several).", style="form", explode=True),
    "source": _query(
        "source",
        _NAMES,
        "Sources (repeat the parameter for several): any name /api/sources lists.",
        style="form",
        explode=True,
    ),
    "metric": _query(
        "metric",
        {"type": "string", "enum": list(METRICS)},
        "detections (objects seen) or images (images with the label); default detections.",
    ),
    "n": _query("n", {"type": "integer", "minimum": 1, "maximum": MAX_TOP}, "How many labels; default 10."),
}

_COUNT = {"type": "integer", "minimum": 0}
_TIME = {"type": "string", "format": "date-time"}
_COVERAGE = {
    "final_until": {"type": ["string", "null"]},
    "batch_run": {"type": ["string", "null"]},
    "live": {"type": "boolean"},
}
_LABEL_COUNTS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["label", "count"],
        "properties": {"label": {"type": "string"}, "count": _COUNT},
    },
}
ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}


def _object(required: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": required}


PATHS: dict[str, dict[str, Any]] = {}


def describe(
    path: str,
    summary: str,
    parameters: list[str],
    answer: dict[str, Any],
    statuses: dict[str, tuple[str, dict[str, Any]]] | None = None,
    csv: bool = False,
) -> None:
    """Describe GET `path`: its parameters (names in PARAMETERS), its 200 answer's schema
    and any other statuses ({"503": (description, schema)}); every route answers a 400
    with {"error": ...} for a bad parameter."""
    responses = {
        "200": {
            "description": "OK",
            "content": {
                "application/json": {"schema": answer},
                **({"text/csv": {"schema": {"type": "string"}}} if csv else {}),
            },
        },
        "400": {
            "description": "A parameter is missing, unknown or malformed; `error` says which.",
            "content": {"application/json": {"schema": ERROR}},
        },
        "502": {
            "description": "Elasticsearch answered with an error.",
            "content": {"application/json": {"schema": ERROR}},
        },
        "503": {
            "description": "Elasticsearch is unreachable or refused the API's credentials.",
            "content": {"application/json": {"schema": ERROR}},
        },
    }
    for status, (description, schema) in (statuses or {}).items():
        responses[status] = {"description": description, "content": {"application/json": {"schema": schema}}}
    PATHS[path] = {
        "get": {"summary": summary, "parameters": [PARAMETERS[name] for name in parameters], "responses": responses}
    }


_RANGE = ["from", "to", "interval"]
describe(
    "/api/labels",
    "Distinct labels, alphabetically",
    [*_RANGE, "source"],
    _object({"labels": {"type": "array", "items": {"type": "string"}}}),
)
describe(
    "/api/sources",
    "Distinct sources, alphabetically",
    [*_RANGE, "label"],
    _object({"sources": {"type": "array", "items": {"type": "string"}}}),
)
describe(
    "/api/totals",
    "Count per label over the range, biggest first",
    [*_RANGE, "source", "label", "metric", "format"],
    _object(
        {
            "from": _TIME,
            "to": _TIME,
            "metric": {"type": "string", "enum": list(METRICS)},
            "total": _COUNT,
            "totals": _LABEL_COUNTS,
            "truncated": {"type": "boolean"},
            **_COVERAGE,
        }
    ),
    csv=True,
)
describe(
    "/api/top",
    "The busiest labels",
    [*_RANGE, "source", "metric", "n"],
    _object(
        {
            "from": _TIME,
            "to": _TIME,
            "metric": {"type": "string", "enum": list(METRICS)},
            "n": {"type": "integer", "minimum": 1, "maximum": MAX_TOP},
            "top": _LABEL_COUNTS,
            **_COVERAGE,
        }
    ),
)
describe(
    "/api/timeline",
    "One series per label: a point per bucket, final or live",
    [*_RANGE, "label", "source", "metric", "n", "format"],
    {
        "type": "object",
        "additionalProperties": {
            "type": "array",
            "items": _object({"t": _TIME, "y": _COUNT, "state": {"type": "string", "enum": ["final", "live"]}}),
        },
    },
    csv=True,
)
describe(
    "/api/alerts",
    "The alerts fired, newest bucket first",
    ["limit"],
    _object(
        {
            "index": {"type": "string"},
            "alerts": {
                "type": "array",
                "items": _object(
                    {
                        "label": {"type": "string"},
                        "source": {"type": "string"},
                        "bucket_start": _TIME,
                        "count": _COUNT,
                        "rule": {"type": "string"},
                        "webhook": {"type": "string"},
                    }
                ),
            },
        }
    ),
)
describe(
    "/api/count_specific",
    "One label's count over the range",
    [*_RANGE, "label", "source", "metric"],
    _object({"label": {"type": "string"}, "count_in_range": _COUNT}),
)
describe(
    "/api/label_counts",
    "Counts per label, biggest first",
    [*_RANGE, "source", "label", "metric"],
    _object({"labels": {"type": "array", "items": {"type": "string"}}, "counts": {"type": "array", "items": _COUNT}}),
)
PARAMETERS["after"] = _query(
    "after",
    {"type": "string", "pattern": r"^[0-9]{1,15}_[0-9a-f]{16,64}$"},
    "Where the next page starts: the `next` of the previous answer.",
)
_DETECTION = _object(
    {
        "label": {"type": "string"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "box": {"type": "array", "items": _COUNT, "minItems": 4, "maxItems": 4},
    }
)
describe(
    "/api/images",
    "The newest images with their detections (gallery; the image itself: "
    "/api/images/{id}/thumbnail?size=N and /api/images/{id}/full, JPEG)",
    ["from", "to", "source", "label", "limit", "after"],
    _object(
        {
            "from": {"type": ["string", "null"]},
            "to": {"type": ["string", "null"]},
            "total": _COUNT,
            "total_is_exact": {"type": "boolean"},
            "next": {"type": ["string", "null"]},
            "images": {
                "type": "array",
                "items": _object(
                    {
                        "id": {"type": "string"},
                        "source": {"type": "string"},
                        "captured_at": _TIME,
                        "width": {"type": ["integer", "null"]},
                        "height": {"type": ["integer", "null"]},
                        "counts": {"type": "object", "additionalProperties": _COUNT},
                        "detections": {"type": ["array", "null"], "items": _DETECTION},
                        "thumbnail": {"type": "string"},
                        "full": {"type": "string"},
                    }
                ),
            },
        }
    ),
)
describe(
    "/api/health",
    "Whether Elasticsearch answers and holds counts",
    [],
    _object({"status": {"type": "string"}, "index": {"type": "string"}}),
    {"503": ("Elasticsearch is unreachable, or holds no counts yet.", _object({"status": {"type": "string"}}))},
)


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Image pipeline counts API",
            "version": VERSION,
            "description": "Counts of what the cameras saw, per label, source and interval "
            "(simple_frontend/README.md).",
        },
        "paths": dict(sorted(PATHS.items())),
    }


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(document())
