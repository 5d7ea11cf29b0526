"""Wires the consumer together from its settings: model, clients, thread pool, loop."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from pipeline_common.clients import s3_client
from pipeline_common.retry import Backoff
from pipeline_common.s3 import S3Client

from . import metrics
from .dead_letter import DeadLetterPublisher
from .detector import Detector, OpenCVRunner
from .events import DetectionPublisher, ensure_topic
from .loop import ConsumerLoop, RunLimits, Summary
from .models import ModelNotFound, resolve_model_files
from .processing import Processor
from .publish import DELIVERY_TIMEOUT_MS
from .settings import ConsumerSettings

log = logging.getLogger(__name__)


def load_detector(settings: ConsumerSettings) -> Detector:
    """Raises ModelNotFound with instructions when the model's files are missing."""
    detector_settings = settings.detector
    # OpenCV's default may oversubscribe a shared host; the count is explicit instead
    cv2.setNumThreads(detector_settings.threads)
    files = resolve_model_files(detector_settings.model, detector_settings.models_dir)
    config = detector_settings  # a DetectorConfig: what the network needs
    try:
        if detector_settings.backend == "onnxruntime":
            from .onnx_backend import OnnxRunner  # optional dependency, loaded only when chosen

            runner = OnnxRunner.load(files, detector_settings.models_dir, detector_settings.threads)
        else:
            runner = OpenCVRunner.load(files)
        detector = Detector.load(files, config, runner)
    except cv2.error as error:  # truncated or mismatched cfg / weights
        raise ModelNotFound(f"cannot load model {files.name} from {files.cfg} and {files.weights}: {error}") from None
    # The runtime allocates and tunes its buffers on the first forward pass: pay that
    # now, not on the first image (it would show up as a latency spike)
    detector.detect(np.zeros((config.input_size, config.input_size, 3), np.uint8))
    log.info(
        "model %s (weights sha256 %s) on %s, input %d, confidence >= %.2f, NMS %.2f, %d threads",
        files.name,
        files.sha256["weights"][:16],
        detector.model_info.runtime,
        config.input_size,
        config.confidence_threshold,
        config.nms_threshold,
        detector_settings.threads,
    )
    return detector


def run_consumer(
    settings: ConsumerSettings,
    limits: RunLimits,
    stop: threading.Event,
    progress=None,
    detector: Detector | None = None,
    s3: S3Client | None = None,
) -> Summary:
    detector = detector or load_detector(settings)
    # The loop retries transient S3 failures itself, for as long as it takes and
    # interruptibly; boto's own retries are kept short so a shutdown is not held up.
    s3 = s3 or s3_client(
        settings.s3,
        max_pool_connections=max(10, settings.workers * 2),
        retries={"max_attempts": 2, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
    )
    # before anything is consumed: an event or dead-letter topic that cannot exist must not
    # turn into a stop at the first image or the first bad message
    admin = AdminClient(settings.kafka.client_config())
    ensure_topic(admin, settings.kafka.detections_topic, "KAFKA_DETECTIONS_TOPIC")
    ensure_topic(admin, settings.kafka.dead_letter_topic, "KAFKA_DEAD_LETTER_TOPIC")
    # librdkafka's statistics every 5 s (delivered during poll) keep the lag gauge current
    consumer = Consumer(
        {**settings.consumer_config(), "statistics.interval.ms": 5000, "stats_cb": metrics.record_stats}
    )
    # dead letters and detection events
    producer = Producer(settings.kafka.durable_producer_config(DELIVERY_TIMEOUT_MS))
    pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="consumer-io")
    backoff = Backoff(settings.retry_initial_s, settings.retry_max_s)
    try:
        processor = Processor(
            s3,
            settings.s3.bucket,
            detector,
            settings.limits,
            backoff,
            stop,
        )
        loop = ConsumerLoop(
            consumer=consumer,
            processor=processor,
            dead_letters=DeadLetterPublisher(producer, settings.kafka.dead_letter_topic, settings.group_id),
            pool=pool,
            stop=stop,
            events=DetectionPublisher(producer, settings.kafka.detections_topic),
            prefetch=settings.prefetch,
            limits=limits,
            progress=progress,
            backoff=backoff,
        )
        loop.subscribe([settings.kafka.images_topic])
        log.info(
            "consuming %s as group %s (detection events to %s, dead letters to %s, bucket %s)",
            settings.kafka.images_topic,
            settings.group_id,
            settings.kafka.detections_topic,
            settings.kafka.dead_letter_topic,
            settings.s3.bucket,
        )
        return loop.run()
    finally:
        stop.set()  # any retry still running gives up; its message is redelivered later
        pool.shutdown(wait=True, cancel_futures=True)
        consumer.close()  # leaves the group; auto-commit commits the stored offsets
        if producer.flush(10):
            log.warning("some dead letters or events were not acknowledged before exit; their offsets were not stored")
