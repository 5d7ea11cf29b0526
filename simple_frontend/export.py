"""CSV answers (`format=csv`) of the timeline and the totals: pure functions over the same
values the JSON answers hold, so both always give the same numbers.

No cell can start a spreadsheet formula: labels and sources start with a letter or digit
(params.NAME), times are ISO-8601 and counts are numbers."""

from __future__ import annotations

import csv
import io
from typing import Any, Iterable, Mapping, Sequence

from flask import Response

from .params import ParamError, shown

FORMATS = ("json", "csv")
TIMELINE_HEADER = ("time", "label", "count", "state")
TOTALS_HEADER = ("label", "count")


def parse_format(text: str | None) -> str:
    if text is None:
        return FORMATS[0]
    if text not in FORMATS:
        raise ParamError(f"format: expected one of {', '.join(FORMATS)}; got {shown(text)}")
    return text


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def timeline_csv(series: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """One row per label and bucket, in the series' order: time, label, count, state."""
    return _table(
        TIMELINE_HEADER,
        ((point["t"], label, point["y"], point["state"]) for label, points in series.items() for point in points),
    )


def totals_csv(counts: Iterable[tuple[str, int]]) -> str:
    """One row per label, biggest first: label, count."""
    return _table(TOTALS_HEADER, counts)


def csv_response(text: str, name: str) -> Response:
    return Response(
        text,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}.csv"',
        },
    )
