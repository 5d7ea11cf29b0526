"""What happens to one message: parse -> download -> decode -> resize into the network's
input (worker threads, ahead of time) -> inference (the detector's thread) -> write the
metadata record (worker thread).

Every failure leaves as one of the kinds in `errors`: a message that cannot be
processed comes back as `Failed` (for the dead-letter topic); transient S3 trouble is
retried here; configuration trouble raises `FatalError`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from pipeline_common.contracts import ContractError, ImageAnnouncement, MetadataRecord, ModelInfo, parse_s3_uri
from pipeline_common.contracts.dead_letter import OriginalMessage
from pipeline_common.retry import Backoff
from pipeline_common.s3 import S3Client
from pipeline_common.timestamps import utc_now

from . import storage
from .decode import DecodeError, decode_image
from .detector import Blob, Detections, ObjectDetector
from .errors import Rejected, Stage
from .retry import call_with_retry
from .settings import ImageLimits

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    ref: OriginalMessage
    announcement: ImageAnnouncement
    blob: Blob  # the network's input, and the image's size
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Failed:
    ref: OriginalMessage
    stage: Stage
    reason: str


@dataclass(frozen=True)
class Detected:
    ref: OriginalMessage
    record: MetadataRecord


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def parse_announcement(value: bytes | None, bucket: str) -> ImageAnnouncement:
    """The message as an ImageAnnouncement whose image lives in this consumer's bucket."""
    announcement = ImageAnnouncement.from_json_bytes(value)
    image_bucket, _ = parse_s3_uri(announcement.image_path)
    if image_bucket != bucket:
        raise ContractError(
            f"image_path {announcement.image_path} is in bucket {image_bucket!r}, "
            f"but this consumer reads bucket {bucket!r} (S3_BUCKET)",
            field="image_path",
        )
    return announcement


def build_record(
    announcement: ImageAnnouncement,
    detections: Detections,
    model: ModelInfo,
    width: int,
    height: int,
    timings_ms: dict[str, float],
    processed_at: datetime,
) -> MetadataRecord:
    return MetadataRecord(
        image_id=announcement.image_id,
        image_path=announcement.image_path,
        source=announcement.source,
        captured_at=announcement.captured_at,
        processed_at=processed_at,
        model=model,
        width=width,
        height=height,
        detections=detections.to_records(),
        timings_ms=dict(timings_ms),
    )


class Processor:
    def __init__(
        self,
        s3: S3Client,
        bucket: str,
        detector: ObjectDetector,
        limits: ImageLimits,
        backoff: Backoff,
        stop: threading.Event,
    ):
        self._s3 = s3
        self._bucket = bucket
        self._detector = detector
        self._limits = limits
        self._backoff = backoff
        self._stop = stop

    def prepare(self, ref: OriginalMessage) -> Prepared | Failed:
        """Parse, download, decode and resize. Runs in a worker thread, so the detector's
        thread does nothing but inference."""
        try:
            announcement = parse_announcement(ref.value, self._bucket)
        except ContractError as error:
            return Failed(ref, Stage.PARSE, str(error))
        _, key = parse_s3_uri(announcement.image_path)
        started = time.perf_counter()
        try:
            data = call_with_retry(
                lambda: storage.download(self._s3, self._bucket, key, self._limits.max_image_bytes),
                f"{ref.where} download {announcement.image_path}",
                self._backoff,
                self._stop,
            )
        except Rejected as rejected:
            return Failed(ref, rejected.stage, rejected.reason)
        download_ms = _ms_since(started)
        started = time.perf_counter()
        try:
            image = decode_image(data, self._limits.max_image_pixels)
        except DecodeError as error:
            return Failed(ref, Stage.DECODE, f"{announcement.image_path}: {error}")
        decode_ms = _ms_since(started)
        started = time.perf_counter()
        try:
            blob = self._detector.prepare(image)
        except Exception as error:  # cv2.error, ValueError: this image, not the consumer
            return Failed(ref, Stage.DETECT, f"{announcement.image_path}: {type(error).__name__}: {error}")
        return Prepared(
            ref, announcement, blob, {"download": download_ms, "decode": decode_ms, "resize": _ms_since(started)}
        )

    def detect(self, prepared: Prepared) -> Detected | Failed:
        """Run the detector and build the record. Runs in the detector's one thread."""
        started = time.perf_counter()
        try:
            detections = self._detector.infer(prepared.blob)
        except Exception as error:  # cv2.error, ValueError: this image, not the consumer
            return Failed(
                prepared.ref, Stage.DETECT, f"{prepared.announcement.image_path}: {type(error).__name__}: {error}"
            )
        timings = dict(prepared.timings_ms, inference=_ms_since(started))
        timings["total"] = sum(timings.values())
        blob = prepared.blob
        record = build_record(
            prepared.announcement, detections, self._detector.model_info, blob.width, blob.height, timings, utc_now()
        )
        return Detected(prepared.ref, record)

    def write(self, detected: Detected) -> str:
        """Write the metadata record, retrying transient failures. Runs in a worker thread."""
        return call_with_retry(
            lambda: storage.write_metadata(self._s3, self._bucket, detected.record),
            f"{detected.ref.where} write metadata {detected.record.image_id}",
            self._backoff,
            self._stop,
        )
