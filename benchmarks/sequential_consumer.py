"""The original design's consumer loop, kept as the baseline the consumer benchmark
measures against: one image at a time, in one thread, poll -> download -> decode
(cv2.imdecode) -> detect -> upload the JSON record -> commit that message's offset
synchronously, then the next message. Same model, runtime and thread count as the
consumer (the same settings and `load_detector`), same record, same topic and bucket.

No retries, no dead letters: a benchmark baseline, not a consumer to deploy.
Runs until SIGTERM, or --idle-timeout seconds without a message after assignment.

    python benchmarks/sequential_consumer.py --help
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time

import cv2
import numpy as np
from confluent_kafka import Consumer

from consumer.app import load_detector
from consumer.processing import build_record
from consumer.settings import ConsumerSettings
from pipeline_common.clients import s3_client
from pipeline_common.contracts import ImageAnnouncement, metadata_key, parse_s3_uri
from pipeline_common.environment import read_environment
from pipeline_common.logs import configure_logging
from pipeline_common.timestamps import utc_now

log = logging.getLogger("benchmarks.sequential_consumer")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--idle-timeout", type=float, metavar="S", help="stop after S seconds without a message")
    args = parser.parse_args(argv)
    configure_logging(False)
    settings = ConsumerSettings.from_env(read_environment())
    detector = load_detector(settings)
    s3 = s3_client(settings.s3)
    consumer = Consumer({**settings.consumer_config(), "enable.auto.commit": False, "enable.auto.offset.store": True})
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def on_assign(_, partitions) -> None:
        log.info("assigned %s", ", ".join(f"{p.topic}/{p.partition}" for p in partitions))

    consumer.subscribe([settings.kafka.images_topic], on_assign=on_assign)
    processed, last = 0, time.monotonic()
    try:
        while not stop.is_set():
            message = consumer.poll(0.5)
            if message is None:
                if args.idle_timeout and time.monotonic() - last > args.idle_timeout:
                    break
                continue
            if message.error():
                log.warning("Kafka: %s", message.error())
                continue
            last = time.monotonic()
            announcement = ImageAnnouncement.from_dict(json.loads(message.value()))
            bucket, key = parse_s3_uri(announcement.image_path)
            started = time.perf_counter()
            data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            downloaded = time.perf_counter()
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            decoded = time.perf_counter()
            detections = detector.detect(image)
            done = time.perf_counter()
            timings = {
                "download": (downloaded - started) * 1000,
                "decode": (decoded - downloaded) * 1000,
                "inference": (done - decoded) * 1000,
                "total": (done - started) * 1000,
            }
            record = build_record(
                announcement, detections, detector.model_info, image.shape[1], image.shape[0], timings, utc_now()
            )
            s3.put_object(
                Bucket=bucket,
                Key=metadata_key(record.image_id),
                Body=record.to_json_bytes(),
                ContentType="application/json",
            )
            consumer.commit(message=message, asynchronous=False)
            processed += 1
    finally:
        consumer.close()
    log.info("stopped: %d processed", processed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
