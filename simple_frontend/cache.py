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
from elastic_transport import TransportError
from elasticsearch import ApiError
from flask import Response

# However sure the generation is, no answer is kept longer than this (a safety net).
ANSWER_TTL_S = 600.0
# How long a request waits for the same answer being made by another before asking itself.
BUILD_WAIT_S = 30.0


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

    def hit(self) -> "Stored":
        """The same answer, marked as served from the cache, without its length (set per answer)."""
        headers = tuple((name, value) for name, value in self.headers if name not in ("X-Cache", "Content-Length"))
        return Stored(self.body, self.status, (*headers, ("X-Cache", "hit")))


class AnswerCache:
    """`answer(key, build)`: the stored answer to `key`, or `build()`'s, stored when it is a
    200. `size` 0 turns caching off (every call builds).

    `repeat` (optional) also files the answer under the request as it arrived (see
    `RepeatedRequests`), with the route it answered, for the next identical request."""

    def __init__(self, size: int, *, timer: Callable[[], float] = time.monotonic) -> None:
        self._answers: TTLCache | None = TTLCache(size, ANSWER_TTL_S, timer=timer) if size else None
        # A plain dict, read without the lock (one dict look-up is atomic in CPython): every
        # request of a busy dashboard passes here, and gunicorn's threads would queue for the
        # lock. Its keys hold the minute and the generation, so an entry is never served
        # after either moves; at `size` entries the older half is dropped.
        self._size = size
        self._repeats: dict[Hashable, tuple[Stored, str]] | None = {} if size else None
        self._building: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()

    def answer(
        self, key: Hashable, build: Callable[[], Response], repeat: tuple[Hashable, str] | None = None
    ) -> Response:
        if self._answers is None:
            return _marked(build(), "off")
        stored = self._get(key)
        if stored is None:
            response = self._build_once(key, build)
            if response.status_code != 200 or response.direct_passthrough:
                return response
            stored = self._get(key) or Stored.of(response)
        else:
            response = _marked(stored.response(), "hit")
        if repeat is not None:
            self._file_repeat(repeat[0], (stored.hit(), repeat[1]))
        return response

    def _file_repeat(self, key: Hashable, entry: "tuple[Stored, str]") -> None:
        with self._lock:
            repeats = self._repeats
            if len(repeats) >= self._size:  # readers keep the dict they hold; the newer half goes on
                repeats = self._repeats = dict(list(repeats.items())[len(repeats) // 2 :])
            repeats[key] = entry

    def _get(self, key: Hashable) -> Stored | None:
        with self._lock:
            return self._answers.get(key)

    def _build_once(self, key: Hashable, build: Callable[[], Response]) -> Response:
        """`build()`'s answer, kept if a 200. Callers asking for the same key meanwhile wait
        for it instead of sending Elasticsearch the same query again (a burst of identical
        requests after the generation moves costs one search)."""
        with self._lock:
            in_flight = self._building.get(key)
            if in_flight is None:
                self._building[key] = threading.Event()
        if in_flight is not None:
            in_flight.wait(BUILD_WAIT_S)
            stored = self._get(key)
            if stored is not None:
                return _marked(stored.response(), "hit")
            return _marked(build(), "miss")  # the first one failed (or is very slow): ask ourselves
        try:
            response = _marked(build(), "miss")
            if response.status_code == 200 and not response.direct_passthrough:
                with self._lock:
                    self._answers[key] = Stored.of(response)
            return response
        finally:
            with self._lock:
                self._building.pop(key).set()

    def repeated(self, request_key: Hashable) -> "tuple[Stored, str] | None":
        """The answer (and its route) filed for this request as it arrived, if any."""
        repeats = self._repeats
        return None if repeats is None else repeats.get(request_key)


class RepeatedRequests:
    """WSGI middleware in front of Flask: a GET under /api/ identical byte for byte (path
    and query string) to an answered one, at the same data generation and in the same
    minute, gets the stored answer without entering Flask (routing, parsing, planning).
    The minute is part of the key because relative times (`now-24h`) move with it; the
    finest bucket is a minute, so within one the plan, and the answer, are the same.
    Anything else, and anything not yet answered, goes to Flask as usual."""

    def __init__(
        self,
        wsgi_app,
        answers: AnswerCache,
        generation: Callable[[], Hashable],
        minute: Callable[[], Hashable],
        observe: Callable[[str, float], None],
    ) -> None:
        self.wsgi_app = wsgi_app
        self._answers, self._generation, self._minute, self._observe = answers, generation, minute, observe

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "GET" or not path.startswith("/api/") or path == "/api/health":
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        try:
            key = request_key(path, environ.get("QUERY_STRING", ""), self._minute(), self._generation())
        except (TransportError, ApiError):  # Elasticsearch down: Flask answers with the right error
            return self.wsgi_app(environ, start_response)
        found = self._answers.repeated(key)
        if found is None:
            return self.wsgi_app(environ, start_response)
        stored, rule = found
        start_response(f"{stored.status} OK", [*stored.headers, ("Content-Length", str(len(stored.body)))])
        self._observe(rule, time.perf_counter() - started)
        return [stored.body]


def request_key(path: str, query: str | bytes, minute: Hashable, generation: Hashable) -> Hashable:
    return (path, query.decode("latin-1") if isinstance(query, bytes) else query, minute, generation)


class RecentAnswer:
    """One answer (e.g. /api/health's) reused for `seconds`: at most one cluster round trip
    per that time, however many callers ask. Past that, one caller makes it again while the
    others are given the previous one; only the very first is waited for."""

    def __init__(self, seconds: float, *, timer: Callable[[], float] = time.monotonic) -> None:
        self._seconds, self._timer = seconds, timer
        self._lock, self._first = threading.Lock(), threading.Lock()
        self._kept: tuple[float, Stored] | None = None
        self._making = False

    def answer(self, build: Callable[[], Response]) -> Response:
        if self._seconds <= 0:
            return _marked(build(), "off")
        with self._lock:
            kept = self._kept
            if kept is not None and (self._timer() < kept[0] or self._making):
                return _marked(kept[1].response(), "hit")
            self._making = True
        try:
            if kept is None:
                with self._first:
                    with self._lock:
                        if self._kept is not None:
                            return _marked(self._kept[1].response(), "hit")
                    return self._make(build)
            return self._make(build)
        finally:
            with self._lock:
                self._making = False

    def _make(self, build: Callable[[], Response]) -> Response:
        response = _marked(build(), "miss")
        with self._lock:
            self._kept = (self._timer() + self._seconds, Stored.of(response))
        return response


def _marked(response: Response, state: str) -> Response:
    response.headers["X-Cache"] = state
    return response
