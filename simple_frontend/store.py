"""The thin adapter between the API and Elasticsearch: runs the bodies `queries` builds."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Protocol

from pipeline_common.contracts import Interval

from . import queries, results

log = logging.getLogger(__name__)


class SearchClient(Protocol):
    """What the store needs of an elasticsearch.Elasticsearch client (or a test's fake)."""

    @property
    def indices(self) -> Any: ...

    def search(self, *, index: str, **body: Any) -> Any: ...

    def close(self) -> None: ...


class CountsStore:
    """Searches one index with a client it is given (a real one, or a fake in unit tests)."""

    def __init__(
        self,
        client: SearchClient,
        index: str,
        *,
        intervals_cache_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.index = index
        self._cache_seconds = intervals_cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._intervals: tuple[float, tuple[Interval, ...]] | None = None

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        # A missing index answers like an empty one: the dashboard shows "no data"
        # before the first indexer run; /api/health is where it is reported.
        response = self.client.search(index=self.index, ignore_unavailable=True, **body)
        return getattr(response, "body", response)

    def stored_intervals(self) -> tuple[Interval, ...]:
        """Intervals present in the index, finest first; cached for a short while since
        they change only when the indexer runs."""
        with self._lock:
            cached = self._intervals
        if cached is not None and self._clock() < cached[0]:
            return cached[1]
        intervals, unknown = results.stored_intervals(self.search(queries.stored_intervals_body()))
        if unknown:
            log.warning("index %s holds documents with unknown intervals %s; they are never counted",
                        self.index, unknown)
        with self._lock:
            self._intervals = (self._clock() + self._cache_seconds, tuple(intervals))
        return tuple(intervals)

    def index_exists(self) -> bool:
        return bool(self.client.indices.exists(index=self.index))
