"""Batch and live, merged (the lambda architecture's serving side): pure functions.

The batch index answers for the buckets before the cutoff of its newest indexed run
(pipeline_common.watermark), the live indices for everything from the cutoff on. A
request's range is split at the cutoff, each part is asked of its own store, and the
answers are added up here. Every timeline point says whether it is `final` (wholly from
the batch run) or `live` (it may still change: new images, then the next batch run).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping, Sequence

from pipeline_common.contracts import ContractError, Interval
from pipeline_common.timestamps import to_iso
from pipeline_common.watermark import batch_cutoff, is_final

from .params import CountQuery
from .queries import Window

log = logging.getLogger(__name__)

FINAL, LIVE = "final", "live"


@dataclass(frozen=True)
class Plan:
    """Which store answers which part of a query's time axis."""

    query: CountQuery
    stored: Interval  # the batch documents read
    run_id: str | None  # the batch run the cutoff comes from; None: no run indexed
    cutoff: datetime | None  # batch before, live from here on; None: everything live
    batch: Window | None
    live: Window | None

    @property
    def both(self) -> bool:
        return self.batch is not None and self.live is not None

    def coverage(self) -> dict[str, Any]:
        """What every answer says about where its counts come from."""
        return {
            "final_until": to_iso(self.cutoff) if self.cutoff else None,
            "batch_run": self.run_id,
            "live": self.live is not None,
        }


def covering_run(runs: Sequence[str]) -> str | None:
    """The run whose watermark the API trusts, given the newest run ids of one interval
    (newest first). While a newer run is being indexed both runs' documents are in the
    index and the newer one is not complete yet, so the older one decides; once the
    indexer has pruned the older run's documents, the newer one does. Ids that are not
    run ids (hand-made documents) are skipped."""
    valid = []
    for run_id in runs:
        try:
            batch_cutoff(run_id, Interval.MINUTE)
        except ContractError:
            log.warning("batch document run_id %r is not a run id; ignored", run_id)
            continue
        valid.append(run_id)
    if not valid:
        return None
    return valid[1] if len(valid) > 1 else valid[0]


def split(window: Window, cutoff: datetime | None) -> tuple[Window | None, Window | None]:
    """(batch part, live part) of `window`; either may be None."""
    if cutoff is None:
        return None, window
    if window.end is not None and window.end <= cutoff:
        return window, None
    if window.start is not None and window.start >= cutoff:
        return None, window
    return Window(window.start, cutoff), Window(cutoff, window.end)


def plan(query: CountQuery, stored: Interval, runs: Sequence[str], lateness: timedelta) -> Plan:
    run_id = covering_run(runs)
    cutoff = batch_cutoff(run_id, stored, lateness)
    batch, live = split(Window.of(query.time_range), cutoff)
    return Plan(query, stored, run_id, cutoff, batch, live)


def merge_counts(*answers: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """Counts per label added up; biggest first, ties alphabetically (as Elasticsearch orders)."""
    total: Counter[str] = Counter()
    for answer in answers:
        for label, count in answer:
            total[label] += count
    return sorted(total.items(), key=lambda item: (-item[1], item[0]))


def merge_values(*answers: Iterable[str]) -> list[str]:
    return sorted(set().union(*answers))


def merge_timeline(
    parts: Sequence[Mapping[str, Sequence[Mapping[str, Any]]]],
    order: Sequence[str],
    keys: Sequence[datetime],
    interval: Interval,
    cutoff: datetime | None,
) -> dict[str, list[dict[str, Any]]]:
    """One series per label of `order` over every bucket of `keys`: the points of all
    `parts` added up per bucket, each marked final or live."""
    moments = [(to_iso(key), FINAL if is_final(key, interval, cutoff) else LIVE) for key in keys]
    series = {}
    for label in order:
        sums: Counter[str] = Counter()
        for part in parts:
            for point in part.get(label, ()):
                sums[point["t"]] += point["y"]
        series[label] = [{"t": t, "y": sums.get(t, 0), "state": state} for t, state in moments]
    return series
