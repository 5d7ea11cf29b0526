"""Answers from memory: each worker keeps the API's recent answers, keyed by the endpoint,
the normalised query (the plan: the parsed, widened range, the interval, labels, sources,
metric, where batch ends and live begins) and the generation of the data behind it
(`CountsStore.snapshot`). The data changes only when a batch run is indexed or live images
arrive; until the generation moves an answer is served again without asking Elasticsearch.

The cache is per process (cachetools, behind a lock for gunicorn's threads). A cache shared
by the workers would need a server of its own (Redis, memcached) and a network round trip
per answer, the cost this cache removes; each worker warms its own instead.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Hashable

from cachetools import TTLCache
from flask import Response

# However sure the generation is, no answer is kept longer than this (a safety net).
ANSWER_TTL_S = 600.0


@dataclass(frozen=True)
class Stored:
    """A response as bytes and headers: a hit builds a fresh Response without serialising again."""

    body: bytes
    status: int
    headers: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, response: Response) -> "Stored":
        return cls(response.get_data(), response.status_code, tuple(response.headers.items()))

    def response(self) -> Response:
        return Response(self.body, status=self.status, headers=list(self.headers))


class AnswerCache:
    """`answer(key, build)`: the stored answer to `key`, or `build()`'s, stored when it is a
    200. `size` 0 turns caching off (every call builds)."""

    def __init__(self, size: int, *, timer: Callable[[], float] = time.monotonic) -> None:
        self._answers: TTLCache | None = TTLCache(size, ANSWER_TTL_S, timer=timer) if size else None
        self._lock = threading.Lock()

    def answer(self, key: Hashable, build: Callable[[], Response]) -> Response:
        if self._answers is None:
            return _marked(build(), "off")
        with self._lock:
            stored = self._answers.get(key)
        if stored is not None:
            return _marked(stored.response(), "hit")
        response = build()
        if response.status_code == 200 and not response.direct_passthrough:
            with self._lock:
                self._answers[key] = Stored.of(response)
        return _marked(response, "miss")


class RecentAnswer:
    """One answer (e.g. /api/health's) reused for `seconds`: at most one cluster round trip
    per that time, however many callers ask."""

    def __init__(self, seconds: float, *, timer: Callable[[], float] = time.monotonic) -> None:
        self._cache: TTLCache | None = TTLCache(1, seconds, timer=timer) if seconds > 0 else None
        self._lock = threading.Lock()

    def answer(self, build: Callable[[], Response]) -> Response:
        if self._cache is None:
            return _marked(build(), "off")
        with self._lock:  # one caller builds, the others wait for its answer
            stored = self._cache.get("answer")
            if stored is not None:
                return _marked(stored.response(), "hit")
            response = build()
            self._cache["answer"] = Stored.of(response)
            return _marked(response, "miss")


def _marked(response: Response, state: str) -> Response:
    response.headers["X-Cache"] = state
    return response
