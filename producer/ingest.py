"""One file at a time, as `watch` needs it: prepare, upload, announce."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable

from .prepare import PrepareReport, prepare_file
from .publish import Publisher, PublishReport
from .s3_io import StoreUnavailable
from .settings import ProducerSettings
from .state import PreparedLedger

log = logging.getLogger(__name__)


class Ingest:
    def __init__(self, settings: ProducerSettings, publisher: Publisher):
        self.settings = settings
        self.publisher = publisher
        self.ledger = PreparedLedger.in_folder(settings.frames_dir)
        self.failures: list[tuple[str, str]] = []  # preparation failures, kept for the final report

        self._reported = 0  # acknowledgements already logged

    def handle(self, originals: Iterable[Path]) -> None:
        report = PrepareReport()
        originals = list(originals)
        for path in originals:
            prepare_file(path, self.settings, self.ledger, report)
        self.failures.extend(report.failures)
        if originals:
            log.info(
                "%d file(s) prepared: %d frame(s), %d new", len(originals), len(report.frames), len(report.created)
            )
        self.publish(report.frames)

    def idle(self, timeout: float) -> None:
        """Serve delivery reports and say which announcements Kafka acknowledged."""
        self.publisher.announcer.poll(timeout)
        acknowledged = self.publisher.announcer.outcome.acknowledged
        for image_id in acknowledged[self._reported :]:
            log.info("announced %s on %s", image_id, self.publisher.announcer.topic)
        self._reported = len(acknowledged)

    def publish(self, frames: Iterable[Path]) -> None:
        try:
            for frame in frames:
                self.publisher.publish(frame)
        except StoreUnavailable as error:
            # the frames stay on disk and are published by the next run or the next file
            log.error("%s", error)
            self.failures.append(("S3", str(error)))
        self.publisher.announcer.poll(0)

    def finish(self, flush_timeout: float) -> PublishReport:
        report = self.publisher.finish(flush_timeout)
        report.failures[:0] = self.failures
        return report
