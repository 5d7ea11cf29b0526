"""A clean stop on SIGTERM / Ctrl-C, the same for every long-running stage."""

from __future__ import annotations

import logging
import signal
import threading

log = logging.getLogger(__name__)


def stop_on_signals(finishing: str) -> threading.Event:
    """An event the first SIGINT or SIGTERM sets, logging that the stage is `finishing`
    (e.g. "the images in flight, then committing"). A second signal gets the default
    behaviour, so waiting on an unreachable service can be cut short; work not yet
    committed is simply redone by the next run."""
    stop = threading.Event()

    def request_stop(signum, _frame) -> None:
        log.info("%s received: finishing %s (signal again to stop at once)", signal.Signals(signum).name, finishing)
        stop.set()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop
