"""Recovery after the local ledger is lost: announce what is in S3 images/ but was
neither acknowledged here nor processed yet (no metadata/<image_id>.json)."""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError
from PIL import Image
from tqdm import tqdm

from pipeline_common.contracts import IMAGES_PREFIX, ImageAnnouncement, image_key, metadata_key
from pipeline_common.s3 import S3Client, list_keys

from . import s3_io
from .announce import Announcer

log = logging.getLogger(__name__)

_IMAGE_KEY = re.compile(rf"^{re.escape(IMAGES_PREFIX)}(?P<id>[0-9a-f]{{32}})\.jpg$")
UNKNOWN_SOURCE = "unknown"


@dataclass
class BackfillReport:
    listed: int = 0
    already_announced: int = 0
    already_processed: int = 0  # the consumer wrote its metadata: no need to announce
    not_ours: list[str] = field(default_factory=list)  # keys under images/ not named <id>.jpg
    acknowledged: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def image_id_of(key: str) -> str | None:
    match = _IMAGE_KEY.match(key)
    return match["id"] if match else None


def announcement_for(s3: S3Client, bucket: str, image_id: str, fallback_source: str) -> ImageAnnouncement:
    key = image_key(image_id)
    stored = s3_io.stat(s3, bucket, key)
    if stored is None:
        raise LookupError(f"s3://{bucket}/{key} vanished while backfilling")
    known = s3_io.read_object_metadata(stored.metadata)
    if known is not None:
        source, captured_at, width, height = known
    else:
        # not uploaded by this producer: read the size from the picture, time from S3
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        with Image.open(io.BytesIO(body)) as image:
            width, height = image.size
        source, captured_at = fallback_source or UNKNOWN_SOURCE, stored.last_modified
        log.warning("s3://%s/%s has no producer metadata: source %r, captured_at = upload time", bucket, key, source)
    return ImageAnnouncement(
        image_id=image_id,
        image_path=f"s3://{bucket}/{key}",
        source=source,
        captured_at=captured_at,
        uploaded_at=stored.last_modified,
        size_bytes=stored.size,
        width=width,
        height=height,
    )


def backfill(
    s3: S3Client,
    bucket: str,
    announcer: Announcer,
    fallback_source: str,
    flush_timeout: float,
    progress: bool | None = None,
) -> BackfillReport:
    report = BackfillReport()
    try:
        keys = list(list_keys(s3, bucket, IMAGES_PREFIX))
        report.listed = len(keys)
        for key in tqdm(keys, desc="backfill", unit="image", disable=None if progress is None else not progress):
            _backfill_one(s3, bucket, key, announcer, fallback_source, report)
    except s3_io.UNREACHABLE as error:
        log.error("S3 unreachable: %s; stopping", error)
        report.failures.append(("S3", f"unreachable: {error}"))
    # flush even after a failure, so what was sent is acknowledged and recorded
    outcome = announcer.flush(flush_timeout)
    report.acknowledged.extend(outcome.acknowledged)
    report.failures.extend(outcome.failures)
    return report


def _backfill_one(
    s3: S3Client, bucket: str, key: str, announcer: Announcer, fallback_source: str, report: BackfillReport
) -> None:
    image_id = image_id_of(key)
    if image_id is None:
        log.warning("s3://%s/%s is not named images/<image_id>.jpg; left alone", bucket, key)
        report.not_ours.append(key)
        return
    if not announcer.wants(image_id):
        report.already_announced += 1
        return
    try:
        if s3_io.stat(s3, bucket, metadata_key(image_id)) is not None:
            report.already_processed += 1
            return
        announcer.announce(announcement_for(s3, bucket, image_id, fallback_source))
    except s3_io.UNREACHABLE:
        raise
    except (ClientError, BotoCoreError, LookupError, OSError, ValueError) as error:
        log.error("cannot backfill s3://%s/%s: %s", bucket, key, error)
        report.failures.append((key, str(error)))
