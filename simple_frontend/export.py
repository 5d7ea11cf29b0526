"""CSV answers (`format=csv`) of the timeline and the totals: pure functions over the same
values the JSON answers hold, so both always give the same numbers.

No cell can start a spreadsheet formula: times are ISO-8601 and counts are numbers, and a
label (any name a model or a camera's folder may have) that begins like a formula (=, +, -,
@, a tab or a carriage return) is written with a leading apostrophe (`'=x`), as OWASP's
"CSV injection" advice has it; every other label is written as it is."""

from __future__ import annotations

import csv
import io
from typing import Any, Iterable, Mapping, Sequence

from flask import Response

from .params import ParamError, shown

FORMATS = ("json", "csv")
TIMELINE_HEADER = ("time", "label", "count", "state")
TOTALS_HEADER = ("label", "count")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(text: str) -> str:
    """`text` as a spreadsheet shows it, never run as a formula."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


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
        (
            (point["t"], text_cell(label), point["y"], point["state"])
            for label, points in series.items()
            for point in points
        ),
    )


def totals_csv(counts: Iterable[tuple[str, int]]) -> str:
    """One row per label, biggest first: label, count."""
    return _table(TOTALS_HEADER, ((text_cell(label), count) for label, count in counts))


def csv_response(text: str, name: str) -> Response:
    return Response(
        text,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}.csv"',
        },
    )
