"""One file at a time, as `watch` needs it: prepare, upload, announce; and, since watch
runs for days, retry in-process what failed for a reason that may pass (S3 unreachable,
an announcement Kafka did not acknowledge) with backoff, and keep no per-image list
that grows with the run: acknowledgements are counted once logged, and only the latest
failures are kept for the final report."""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from .prepare import PrepareReport, prepare_file
from .publish import Publisher, PublishReport
from .s3_io import StoreUnavailable
from .settings import ProducerSettings
from .sidecar import frame_path
from .state import PreparedLedger

log = logging.getLogger(__name__)

KEPT_FAILURES = 1000  # the final report lists the latest ones; the count covers all


@dataclass(frozen=True)
class RetryPolicy:
    initial_s: float = 1.0
    maximum_s: float = 60.0

    def delay(self, attempt: int) -> float:
        # jitter: several producers do not hammer a recovering service in step
        return min(self.initial_s * 2 ** (attempt - 1), self.maximum_s) * random.uniform(0.8, 1.2)


class Ingest:
    def __init__(
        self,
        settings: ProducerSettings,
        publisher: Publisher,
        retry: RetryPolicy = RetryPolicy(),
        clock: Callable[[], float] = time.monotonic,
    ):
        self.settings = settings
        self.publisher = publisher
        self.ledger = PreparedLedger.in_folder(settings.frames_dir)
        self.retry_policy = retry
        self.clock = clock
        self.failures: deque[tuple[str, str]] = deque(maxlen=KEPT_FAILURES)  # the latest, for the report
        self.failed = 0  # every failure for good, counted
        self.acknowledged = 0  # announcements Kafka acknowledged, logged and counted
        self.retries = 0  # frames sent again after a failure that may pass
        self._pending: dict[Path, float] = {}  # frame -> when it is tried again
        self._attempts: dict[Path, int] = {}  # frame -> failed tries so far, until it is acknowledged

    def handle(self, originals: Iterable[Path]) -> None:
        report = PrepareReport()
        originals = list(originals)
        for path in originals:
            prepare_file(path, self.settings, self.ledger, report)
        self._failed(report.failures)
        if originals:
            log.info(
                "%d file(s) prepared: %d frame(s), %d new", len(originals), len(report.frames), len(report.created)
            )
        self.publish(report.frames)

    def idle(self, timeout: float) -> None:
        """Serve delivery reports, say which announcements Kafka acknowledged, schedule
        the failed ones again, and retry what is due."""
        announcer = self.publisher.announcer
        announcer.poll(timeout)
        outcome = announcer.outcome
        for image_id in outcome.acknowledged:
            log.info("announced %s on %s", image_id, announcer.topic)
            self._attempts.pop(frame_path(self.settings.frames_dir, image_id), None)
        self.acknowledged += len(outcome.acknowledged)
        outcome.acknowledged.clear()
        failures, transient = list(outcome.failures), set(outcome.transient)
        outcome.failures.clear()
        outcome.transient.clear()
        for image_id, reason in failures:
            frame = frame_path(self.settings.frames_dir, image_id)
            if image_id in transient and frame.exists():
                self._schedule(frame, reason)
            else:
                self._attempts.pop(frame, None)
                self._failed([(image_id, reason)])
        self._retry_due()

    def publish(self, frames: Iterable[Path]) -> None:
        frames = list(frames)
        for number, frame in enumerate(frames):
            try:
                self.publisher.publish(frame)
            except StoreUnavailable as error:
                # the frames stay on disk; this one and the rest are tried again later
                for later in frames[number:]:
                    self._schedule(later, str(error))
                break
        self._failed(self.publisher.report.failures)
        self.publisher.report.failures.clear()
        self.publisher.announcer.poll(0)

    def _schedule(self, frame: Path, reason: str) -> None:
        attempt = self._attempts.get(frame, 0) + 1
        self._attempts[frame] = attempt
        delay = self.retry_policy.delay(attempt)
        self._pending[frame] = self.clock() + delay
        log.warning("%s: %s; trying again in %.0f s (attempt %d)", frame.name, reason, delay, attempt + 1)

    def _retry_due(self) -> None:
        now = self.clock()
        due = [frame for frame, when in self._pending.items() if when <= now]
        for frame in due:
            del self._pending[frame]
        if due:
            self.retries += len(due)
            self.publish(due)

    def _failed(self, failures: Iterable[tuple[str, str]]) -> None:
        for failure in failures:
            self.failures.append(failure)
            self.failed += 1

    @property
    def waiting(self) -> int:
        """Frames waiting for their next try."""
        return len(self._pending)

    def finish(self, flush_timeout: float) -> PublishReport:
        self.idle(0)
        report = self.publisher.finish(flush_timeout)
        report.acknowledged_earlier += self.acknowledged
        report.failures[:0] = list(self.failures)
        report.failures_not_listed += self.failed - len(self.failures)
        for frame in sorted(self._pending):
            report.failures.append((frame.name, "still failing when watch stopped: published by the next run"))
        return report
