"""The thin adapter between the API and Elasticsearch: runs the bodies `queries` builds
against the batch index or the live indices."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from pipeline_common.contracts import Interval

from . import queries, results

log = logging.getLogger(__name__)


class CountsStore:
    """Searches the batch index and the live indices with a client it is given (a real
    one, or a fake in unit tests)."""

    def __init__(
        self,
        client: Any,
        index: str,
        live_pattern: str,
        *,
        intervals_cache_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.index = index
        self.live_pattern = live_pattern
        self._cache_seconds = intervals_cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._intervals: tuple[float, tuple[Interval, ...], dict[Interval, list[str]]] | None = None

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        # A missing index answers like an empty one: the dashboard shows "no data"
        # before the first indexer run; /api/health is where it is reported.
        response = self.client.search(index=self.index, ignore_unavailable=True, **body)
        return getattr(response, "body", response)

    def search_live(self, body: dict[str, Any]) -> dict[str, Any]:
        # No live index yet (or all aged out) also answers like an empty one.
        response = self.client.search(index=self.live_pattern, ignore_unavailable=True, allow_no_indices=True,
                                      **body)
        return getattr(response, "body", response)

    def _lookup(self) -> tuple[tuple[Interval, ...], dict[Interval, list[str]]]:
        """Intervals in the batch index and their newest runs; cached for a short while
        since they change only when the indexer runs. A stale answer is safe: an older
        run's cutoff only hands more buckets to the live indices, which hold them too."""
        with self._lock:
            cached = self._intervals
        if cached is not None and self._clock() < cached[0]:
            return cached[1], cached[2]
        response = self.search(queries.stored_intervals_body())
        intervals, unknown = results.stored_intervals(response)
        if unknown:
            log.warning("index %s holds documents with unknown intervals %s; they are never counted",
                        self.index, unknown)
        runs = results.interval_runs(response)
        with self._lock:
            self._intervals = (self._clock() + self._cache_seconds, tuple(intervals), runs)
        return tuple(intervals), runs

    def stored_intervals(self) -> tuple[Interval, ...]:
        """Intervals present in the index, finest first."""
        return self._lookup()[0]

    def newest_runs(self, interval: Interval) -> list[str]:
        """The newest run ids holding documents of `interval`, newest first."""
        return list(self._lookup()[1].get(interval, []))

    def stored_interval_for(self, requested: Interval) -> Interval:
        return queries.choose_stored_interval(requested, self.stored_intervals())

    def index_exists(self) -> bool:
        return bool(self.client.indices.exists(index=self.index))
