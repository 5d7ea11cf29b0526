"""The thin adapter between the API and Elasticsearch: runs the bodies `queries` builds
against the batch index or the live indices."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Any, Callable, Hashable, Protocol

from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError

from pipeline_common.contracts import Interval
from pipeline_common.retry import Backoff

from . import queries, results

log = logging.getLogger(__name__)


class SearchClient(Protocol):
    """What the store needs of an elasticsearch.Elasticsearch client (or a test's fake)."""

    @property
    def indices(self) -> Any: ...

    def search(self, *, index: str, **body: Any) -> Any: ...

    def close(self) -> None: ...


@dataclasses.dataclass(frozen=True)
class Snapshot:
    intervals: tuple[Interval, ...]  # finest first
    runs: dict[Interval, list[str]]  # newest first
    generation: Hashable


# A live index created a moment ago answers 503 (no shard available) until its shard has
# started (under a second on a quiet node, longer on a busy one); asked again, it answers.
# Past about 2.5 s, the 503 is reported.
SHARDS_STARTING_ATTEMPTS = 6
SHARDS_STARTING_BACKOFF = Backoff(initial_s=0.1, maximum_s=1.0)


class CountsStore:
    """Searches the batch index and the live indices with a client it is given (a real
    one, or a fake in unit tests)."""

    def __init__(
        self,
        client: SearchClient,
        index: str,
        live_pattern: str,
        *,
        max_staleness_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.index = index
        self.live_pattern = live_pattern
        self._max_staleness = max_staleness_s
        self._clock = clock
        self._lock = threading.Lock()
        self._first = threading.Lock()
        self._refreshing = False
        self._snapshot: tuple[float, Snapshot] | None = None

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        # A missing index answers like an empty one: the dashboard shows "no data"
        # before the first indexer run; /api/health is where it is reported.
        return self._while_shards_start(
            lambda: self._body(self.client.search(index=self.index, ignore_unavailable=True, **body))
        )

    def search_live(self, body: dict[str, Any]) -> dict[str, Any]:
        # No live index yet (or all aged out) also answers like an empty one.
        return self._while_shards_start(
            lambda: self._body(
                self.client.search(index=self.live_pattern, ignore_unavailable=True, allow_no_indices=True, **body)
            )
        )

    def search_parts(self, batch: dict[str, Any] | None, live: dict[str, Any] | None) -> list[dict[str, Any]]:
        """The answers of the batch index and the live indices to their bodies (either may
        be None), in that order; both in one round trip (msearch) when both are asked."""
        if batch is None or live is None:
            if batch is not None:
                return [self.search(batch)]
            return [self.search_live(live)] if live is not None else []
        searches = [
            {"index": self.index, "ignore_unavailable": True},
            batch,
            {"index": self.live_pattern, "ignore_unavailable": True, "allow_no_indices": True},
            live,
        ]

        def ask() -> list[dict[str, Any]]:
            response = self.client.msearch(searches=searches)
            answers = self._body(response)["responses"]
            # msearch reports each search's failure in its answer, with a 200 for the whole
            failed = [answer for answer in answers if "error" in answer]
            if failed:
                # a failure other than 503 is reported first: it is not worth asking again
                reported = next((answer for answer in failed if answer.get("status") != 503), failed[0])
                raise _search_failed(reported, getattr(response, "meta", None))
            return answers

        return self._while_shards_start(ask)

    @staticmethod
    def _body(response: Any) -> Any:
        return getattr(response, "body", response)

    @staticmethod
    def _while_shards_start(ask: Callable[[], Any]) -> Any:
        """`ask()`, asked again with backoff while it fails with a 503 (see
        SHARDS_STARTING_ATTEMPTS): the client's own retries come one after the other at
        once, too soon for a shard that takes a second to start, and never see a 503
        inside an msearch answer."""
        delays = SHARDS_STARTING_BACKOFF.delays()
        attempts_left = SHARDS_STARTING_ATTEMPTS
        while True:
            try:
                return ask()
            except ApiError as error:
                attempts_left -= 1
                if not attempts_left or error.meta.status != 503:
                    raise
                time.sleep(next(delays))

    def snapshot(self) -> Snapshot:
        """What the data looks like now: the stored intervals, their newest runs and the
        data's generation. Looked up at most every `max_staleness_s` seconds, since it
        changes only when the indexer or the live indexer writes. Once that has passed, one
        thread looks it up again while the others go on with the previous one (they wait
        only when there is none yet), so a slow cluster never stalls every request at once.
        A stale answer is safe: an older run's cutoff only hands more buckets to the live
        indices, which hold them too."""
        cached = self._snapshot  # the usual case, without the lock every request would queue for
        if cached is not None and self._clock() < cached[0]:
            return cached[1]
        with self._lock:
            cached = self._snapshot
            if cached is not None and (self._clock() < cached[0] or self._refreshing):
                return cached[1]
            self._refreshing = True
        try:
            if cached is None:
                with self._first:  # the first look-up: one thread asks, the others wait for it
                    with self._lock:
                        if self._snapshot is not None:
                            return self._snapshot[1]
                    return self._look_up()
            return self._look_up()
        finally:
            with self._lock:
                self._refreshing = False

    def _look_up(self) -> Snapshot:
        batch = self.search(queries.stored_intervals_body())
        live = self.search_live(queries.live_extent_body())
        intervals, unknown = results.stored_intervals(batch)
        if unknown:
            log.warning(
                "index %s holds documents with unknown intervals %s; they are never counted", self.index, unknown
            )
        snapshot = Snapshot(tuple(intervals), results.interval_runs(batch), results.generation(batch, live))
        with self._lock:
            self._snapshot = (self._clock() + self._max_staleness, snapshot)
        return snapshot

    def generation(self) -> Hashable:
        """Moves whenever a batch run is indexed or pruned, or live images arrive."""
        return self.snapshot().generation

    def stored_intervals(self) -> tuple[Interval, ...]:
        """Intervals present in the index, finest first."""
        return self.snapshot().intervals

    def newest_runs(self, interval: Interval) -> list[str]:
        """The newest run ids holding documents of `interval`, newest first."""
        return list(self.snapshot().runs.get(interval, []))

    def index_exists(self) -> bool:
        return bool(self.client.indices.exists(index=self.index))


def _search_failed(answer: dict[str, Any], meta: ApiResponseMeta | None) -> ApiError:
    """The ApiError a single search would have raised for one failed msearch answer."""
    error = answer.get("error") or {}
    status = int(answer.get("status") or 500)
    if meta is None:
        meta = ApiResponseMeta(
            status=status,
            http_version="1.1",
            headers=HttpHeaders(),
            duration=0.0,
            node=NodeConfig("http", "unknown", 0),
        )
    kind = error.get("type", "error") if isinstance(error, dict) else str(error)
    return ApiError(kind, dataclasses.replace(meta, status=status), answer)
