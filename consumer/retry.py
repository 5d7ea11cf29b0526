"""Retrying transient failures with backoff (pipeline_common.retry), interruptible by shutdown."""

from __future__ import annotations

import logging
import threading
from typing import Callable, TypeVar

from pipeline_common.retry import Backoff

from .errors import Abandoned, TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")


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
