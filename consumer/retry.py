"""Exponential backoff for transient failures, interruptible by shutdown."""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass
from typing import Callable, Iterator, TypeVar

from .errors import Abandoned, TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    initial_s: float = 0.5
    maximum_s: float = 30.0
    factor: float = 2.0

    def delays(self) -> Iterator[float]:
        delay = self.initial_s
        while True:
            # jitter keeps several consumers from hammering a recovering service in step
            yield delay * random.uniform(0.8, 1.2)
            delay = min(delay * self.factor, self.maximum_s)


def call_with_retry(action: Callable[[], T], what: str, backoff: Backoff, stop: threading.Event) -> T:
    """Run `action` until it succeeds; retry `TransientError` with backoff for as long
    as it takes (an outage must not turn into dead letters), unless `stop` is set."""
    delays = backoff.delays()
    attempt = 0
    while True:
        try:
            return action()
        except TransientError as error:
            attempt += 1
            delay = next(delays)
            log.warning("%s failed (attempt %d): %s; retrying in %.1f s", what, attempt, error, delay)
            if stop.wait(delay):
                raise Abandoned(f"{what}: shutdown requested while retrying ({error})") from error
