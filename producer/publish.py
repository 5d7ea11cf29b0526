"""extracted_frames/ -> S3 images/<image_id>.jpg + one announcement per image on Kafka."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable

from botocore.exceptions import BotoCoreError, ClientError
from tqdm import tqdm

from pipeline_common.contracts import ContractError, ImageAnnouncement, image_key, metadata_key
from pipeline_common.s3 import S3Client

from . import s3_io
from .announce import Announcer
from .frames import image_id as content_id
from .sidecar import FrameRecord, read_record

log = logging.getLogger(__name__)


@dataclass
class PublishReport:
    uploaded: int = 0  # objects written to S3 by this run
    already_in_s3: int = 0  # same key and size already there: not uploaded again
    already_announced: int = 0  # acknowledged by an earlier run: nothing sent
    already_processed: int = 0  # not in the ledger, but the consumer's metadata exists
    acknowledged: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    acknowledged_earlier: int = 0  # watch: acknowledgements already logged and dropped from the list
    failures_not_listed: int = 0  # watch: older failures beyond those kept

    @property
    def ok(self) -> bool:
        return not self.failures and not self.failures_not_listed

    @property
    def announced(self) -> int:
        return self.acknowledged_earlier + len(self.acknowledged)

    @property
    def failed(self) -> int:
        return len(self.failures) + self.failures_not_listed


def build_announcement(
    record: FrameRecord, image_id: str, bucket: str, size: int, uploaded_at: datetime
) -> ImageAnnouncement:
    return ImageAnnouncement(
        image_id=image_id,
        image_path=f"s3://{bucket}/{image_key(image_id)}",
        source=record.source,
        captured_at=record.captured_at,
        uploaded_at=uploaded_at,
        size_bytes=size,
        width=record.width,
        height=record.height,
    )


@dataclass
class Publisher:
    """Uploads frames and hands their announcements to an `Announcer`."""

    s3: S3Client
    bucket: str
    announcer: Announcer
    report: PublishReport = field(default_factory=PublishReport)

    def publish(self, jpeg_path: Path) -> None:
        """Upload and announce one frame unless Kafka already acknowledged it.

        Per-frame problems are recorded in the report; `s3_io.StoreUnavailable` is
        raised when S3 is down, since every further frame would fail the same way."""
        try:
            record = read_record(jpeg_path)
            jpeg = jpeg_path.read_bytes()
        except (ContractError, OSError) as error:
            self._fail(jpeg_path.name, str(error))
            return
        image_id = content_id(jpeg)
        if image_id != record.image_id:
            self._fail(
                jpeg_path.name,
                f"content hash {image_id} does not match its sidecar's {record.image_id}: file changed after prepare",
            )
            return
        if not self.announcer.wants(image_id):
            self.report.already_announced += 1
            return
        key = image_key(image_id)
        metadata = s3_io.object_metadata(record.source, record.captured_at, record.width, record.height)
        try:
            # a lost ledger must not send the whole history to the detector again
            if s3_io.stat(self.s3, self.bucket, metadata_key(image_id)) is not None:
                self.report.already_processed += 1
                return
            uploaded, uploaded_at = s3_io.upload_image(self.s3, self.bucket, key, jpeg, metadata)
        except s3_io.UNREACHABLE as error:
            raise s3_io.StoreUnavailable(f"S3 unreachable while uploading {key}: {error}") from None
        except (ClientError, BotoCoreError) as error:
            self._fail(jpeg_path.name, f"upload to s3://{self.bucket}/{key} failed: {error}")
            return
        if uploaded:
            self.report.uploaded += 1
            log.debug("uploaded s3://%s/%s (%d bytes)", self.bucket, key, len(jpeg))
        else:
            self.report.already_in_s3 += 1
        try:
            announcement = build_announcement(record, image_id, self.bucket, len(jpeg), uploaded_at)
        except ContractError as error:  # e.g. a bucket name an S3 URI cannot carry
            self._fail(jpeg_path.name, str(error))
            return
        self.announcer.announce(announcement)

    def _fail(self, item: str, reason: str) -> None:
        log.error("cannot publish %s: %s", item, reason)
        self.report.failures.append((item, reason))

    def finish(self, flush_timeout: float) -> PublishReport:
        outcome = self.announcer.flush(flush_timeout)
        self.report.acknowledged.extend(outcome.acknowledged)
        self.report.failures.extend(outcome.failures)
        outcome.acknowledged.clear()
        outcome.failures.clear()
        outcome.transient.clear()
        return self.report


def publish_all(
    publisher: Publisher, frames: Iterable[Path], flush_timeout: float, progress: bool | None = None
) -> PublishReport:
    frames = list(frames)
    bar = tqdm(frames, desc="publish", unit="frame", disable=None if progress is None else not progress)
    for index, path in enumerate(bar):
        try:
            publisher.publish(path)
        except s3_io.StoreUnavailable as error:
            log.error("%s; stopping", error)
            publisher.report.failures.append((path.name, str(error)))
            publisher.report.failures.extend(
                (rest.name, "not attempted: S3 unavailable") for rest in frames[index + 1 :]
            )
            bar.close()
            break
    # flush even after a failure, so what was sent is acknowledged and recorded
    return publisher.finish(flush_timeout)
