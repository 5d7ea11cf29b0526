"""Consumer throughput, latency and memory against the real local Kafka and S3.

Makes a few hundred distinct real photos (flips, crops and rescalings of the photos in
Debian's darknet package, plus scikit-image's and matplotlib's sample photos when those
packages are installed), uploads them to a bench bucket of their own (so the real
bucket's metadata/ prefix, which the aggregation job reads, stays clean), then measures
in one run:

  1. bare detector loop: read + decode + inference of the same files from local disk,
     in this process, same model and thread count (run before and after 2., averaged);
  2. consumer throughput: every image announced up front, then
     `object-detector --max-messages N` drains the topic; images/s
     from the first to the last record's processed_at (start-up and group join are
     reported apart), and its ratio to 1.;
  3. end-to-end latency at a steady low rate: a running consumer, images announced at
     --rate per second; latency = announce -> metadata object visible in S3 (a watcher
     lists metadata/ every 20 ms); p50 / p95 / max;
  4. the consumer's peak memory (ru_maxrss of each consumer process).

Needs the local services (`make up`). Bucket and topics are deleted afterwards.

    python -m benchmarks.consumer_throughput --help
"""
from __future__ import annotations

import importlib.util
import io
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from PIL import Image, ImageOps
from tqdm import tqdm

from benchmarks.common import argument_parser, save_figures
from consumer.app import load_detector
from consumer.decode import decode_image
from consumer.settings import ConsumerSettings
from pipeline_common.clients import s3_client
from pipeline_common.contracts import ImageAnnouncement, MetadataRecord, image_key, metadata_key
from pipeline_common.environment import PROJECT_ROOT, SettingsError, read_environment
from pipeline_common.logs import configure_logging
from pipeline_common.s3 import delete_prefix
from pipeline_common.timestamps import utc_now

log = logging.getLogger("benchmarks.consumer_throughput")
MAIN = PROJECT_ROOT / "consumer" / "main_consumer.py"
DARKNET = Path("/usr/share/darknet/data")


def base_photos() -> list[tuple[str, Image.Image]]:
    """Real photos from installed packages (the darknet ones are required)."""
    paths = sorted(DARKNET.glob("*.jpg"))
    if not paths:
        raise SystemExit(f"no photos in {DARKNET}: install the Debian package darknet (make setup)")
    for package, folder, names in (
        ("skimage", "data", ("astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg")),
        ("matplotlib", "mpl-data/sample_data", ("grace_hopper.jpg",)),
    ):
        spec = importlib.util.find_spec(package)  # located, not imported
        if spec and spec.submodule_search_locations:
            root = Path(list(spec.submodule_search_locations)[0]) / folder
            paths += [root / name for name in names if (root / name).is_file()]
    photos = []
    for path in paths:
        with Image.open(path) as image:
            photos.append((path.name, image.convert("RGB")))
    return photos


def variants(photos: list[tuple[str, Image.Image]], count: int) -> list[bytes]:
    """`count` distinct JPEGs: each photo mirrored or not, cropped and rescaled a little
    differently each time (deterministic)."""
    out = []
    for n in range(count):
        name, image = photos[n % len(photos)]
        k = n // len(photos)
        w, h = image.size
        cut = 0.03 * (k % 5)
        variant = image.crop((int(w * cut), int(h * cut * 0.5), w - int(w * cut * 0.5), h - int(h * cut)))
        if k % 2:
            variant = ImageOps.mirror(variant)
        scale = (0.7, 0.85, 1.0, 1.15, 1.3)[(k // 5) % 5]
        variant = variant.resize((max(32, int(variant.width * scale)), max(32, int(variant.height * scale))))
        buffer = io.BytesIO()
        variant.save(buffer, format="JPEG", quality=88)
        out.append(buffer.getvalue())
    return out


@dataclass
class Bench:
    settings: ConsumerSettings
    env: dict[str, str]
    s3: object
    admin: AdminClient
    bucket: str
    workdir: Path

    def topics(self, tag: str) -> tuple[str, str]:
        images, dead = f"consumer-bench-{tag}-{uuid.uuid4().hex[:8]}", f"consumer-bench-dead-{uuid.uuid4().hex[:8]}"
        for future in self.admin.create_topics([NewTopic(images, 2, 1), NewTopic(dead, 1, 1)]).values():
            future.result(timeout=30)
        return images, dead

    def consumer_env(self, images: str, dead: str) -> dict[str, str]:
        return {
            **self.env,
            "S3_BUCKET": self.bucket,
            "KAFKA_IMAGES_TOPIC": images,
            "KAFKA_DEAD_LETTER_TOPIC": dead,
            "KAFKA_CONSUMER_GROUP": f"consumer-bench-{uuid.uuid4().hex[:8]}",
        }

    def start_consumer(self, env: dict[str, str], *args: str) -> tuple[subprocess.Popen, Path]:
        log_path = self.workdir / f"consumer-{uuid.uuid4().hex[:6]}.log"
        with log_path.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, str(MAIN), *args], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        return process, log_path

    def metadata_keys(self) -> list[str]:
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix="metadata/"):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return keys


def wait_rusage(process: subprocess.Popen, timeout_s: float) -> tuple[int, float]:
    """(exit code, peak RSS in MB) of a consumer process."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage.ru_maxrss / 1024
        time.sleep(0.05)
    process.kill()
    raise SystemExit(f"consumer {process.pid} did not finish within {timeout_s:.0f} s")


def announce(settings: ConsumerSettings, topic: str, announcements, rate: float | None = None) -> list[float]:
    """Send announcements (at `rate` per second if given); return each one's send time."""
    producer = Producer({**settings.kafka.client_config(), "linger.ms": 0 if rate else 20})
    sent, start = [], time.monotonic()
    for n, announcement in enumerate(announcements):
        if rate:
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        sent.append(time.time())
        producer.produce(topic, value=announcement.to_json_bytes(), key=announcement.image_id.encode())
        producer.poll(0)
    if producer.flush(30):
        raise SystemExit("Kafka did not acknowledge every announcement")
    return sent


def bare_loop(settings: ConsumerSettings, detector, files: list[Path], label: str) -> float:
    detector.detect(decode_image(files[0].read_bytes(), settings.max_image_pixels))  # warm-up
    start = time.perf_counter()
    for path in tqdm(files, desc=label, unit="img", leave=False):
        detector.detect(decode_image(path.read_bytes(), settings.max_image_pixels))
    return len(files) / (time.perf_counter() - start)


def throughput_run(bench: Bench, announcements) -> dict:
    images, dead = bench.topics("throughput")
    announce(bench.settings, images, announcements)
    env = bench.consumer_env(images, dead)
    started = time.time()
    process, log_path = bench.start_consumer(env, "--max-messages", str(len(announcements)))
    code, peak_mb = wait_rusage(process, timeout_s=1800)
    wall = time.time() - started
    if code != 0:
        raise SystemExit(f"consumer exited {code}; its log: {log_path}")
    records = []
    for announcement in announcements:
        body = bench.s3.get_object(Bucket=bench.bucket, Key=metadata_key(announcement.image_id))["Body"].read()
        records.append(MetadataRecord.from_json_bytes(body))
    stamps = sorted(r.processed_at.timestamp() for r in records)
    bench.admin.delete_topics([images, dead], operation_timeout=10)
    return {
        "images_per_s": (len(stamps) - 1) / (stamps[-1] - stamps[0]),
        "wall_s": wall,
        "startup_s": stamps[0] - started,  # process start, model load, group join, first image
        "peak_rss_mb": peak_mb,
        "detections": sum(len(r.detections) for r in records),
        "timings_ms": {
            stage: statistics.median(r.timings_ms[stage] for r in records)
            for stage in ("download", "decode", "inference", "total")
        },
    }


def latency_run(bench: Bench, announcements, rate: float) -> dict:
    for key in bench.metadata_keys():
        bench.s3.delete_object(Bucket=bench.bucket, Key=key)
    images, dead = bench.topics("latency")
    process, log_path = bench.start_consumer(bench.consumer_env(images, dead))
    deadline = time.monotonic() + 60
    while "assigned" not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"consumer did not join its group; its log: {log_path}")
        time.sleep(0.1)

    seen: dict[str, float] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            now = time.time()
            for key in bench.metadata_keys():
                seen.setdefault(key, now)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    sent = announce(bench.settings, images, announcements, rate=rate)
    wanted = [metadata_key(a.image_id) for a in announcements]
    deadline = time.monotonic() + 120
    while not all(key in seen for key in wanted) and time.monotonic() < deadline:
        time.sleep(0.1)
    done.set()
    watcher.join()
    process.send_signal(signal.SIGTERM)
    code, peak_mb = wait_rusage(process, timeout_s=60)
    bench.admin.delete_topics([images, dead], operation_timeout=10)
    latencies = sorted((seen[key] - at) * 1000 for key, at in zip(wanted, sent, strict=False) if key in seen)
    if len(latencies) < len(wanted):
        raise SystemExit(f"only {len(latencies)} of {len(wanted)} records appeared; consumer log: {log_path}")
    return {
        "rate_per_s": rate,
        "images": len(latencies),
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[max(0, int(round(0.95 * len(latencies))) - 1)],
        "max_ms": latencies[-1],
        "peak_rss_mb": peak_mb,
        "exit_code": code,
    }


def upload_all(bench: Bench, blobs: list[bytes]) -> tuple[list[ImageAnnouncement], list[Path]]:
    import hashlib

    def put(item: tuple[int, bytes]) -> tuple[ImageAnnouncement, Path]:
        n, data = item
        image_id = hashlib.sha256(data).hexdigest()[:32]
        path = bench.workdir / f"{image_id}.jpg"
        path.write_bytes(data)
        bench.s3.put_object(Bucket=bench.bucket, Key=image_key(image_id), Body=data, ContentType="image/jpeg")
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
        now = utc_now()
        return ImageAnnouncement(
            image_id=image_id, image_path=f"s3://{bench.bucket}/{image_key(image_id)}", source=f"bench-{n % 3}",
            captured_at=now, uploaded_at=now, size_bytes=len(data), width=width, height=height,
        ), path

    with ThreadPoolExecutor(4) as pool:
        done = list(tqdm(pool.map(put, enumerate(blobs)), total=len(blobs), desc="upload", unit="img", leave=False))
    return [a for a, _ in done], [p for _, p in done]


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__, "consumer_throughput")
    parser.add_argument("--images", type=int, default=300, help="photos for the throughput run (default 300)")
    parser.add_argument("--rate", type=float, default=5.0, help="announcements per second in the latency run")
    parser.add_argument("--latency-images", type=int, default=60, help="photos in the latency run (default 60)")
    args = parser.parse_args(argv)
    if args.images < 10 or not 1 <= args.latency_images <= args.images or args.rate <= 0:
        parser.error("need --images >= 10, 1 <= --latency-images <= --images and --rate > 0")
    configure_logging(args.verbose)
    try:
        env = read_environment()
        settings = ConsumerSettings.from_env(env)
    except SettingsError as error:
        log.error("configuration: %s (run `make up` first)", error)
        return 2

    s3 = s3_client(settings.s3)
    bucket = f"consumer-bench-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    with tempfile.TemporaryDirectory(prefix="consumer-bench-") as workdir:
        bench = Bench(settings, env, s3, AdminClient(settings.kafka.client_config()), bucket, Path(workdir))
        try:
            photos = base_photos()
            log.info("%d base photos -> %d variants in s3://%s", len(photos), args.images, bucket)
            announcements, files = upload_all(bench, variants(photos, args.images))
            detector = load_detector(settings)
            bare_before = bare_loop(settings, detector, files, "bare detector loop (1/2)")
            consumer = throughput_run(bench, announcements)
            bare_after = bare_loop(settings, detector, files, "bare detector loop (2/2)")
            latency = latency_run(bench, announcements[: args.latency_images], args.rate)
        finally:
            delete_prefix(s3, bucket, "")
            s3.delete_bucket(Bucket=bucket)

    bare = (bare_before + bare_after) / 2
    figures = {
        "model": settings.detector.model,
        "input_size": settings.detector.input_size,
        "opencv_threads": settings.detector.threads,
        "prefetch": settings.prefetch,
        "workers": settings.workers,
        "images": args.images,
        "bare_images_per_s": {"before": bare_before, "after": bare_after, "mean": bare},
        "consumer": consumer,
        "ratio_consumer_to_bare": consumer["images_per_s"] / bare,
        "latency": latency,
    }
    print(
        f"\nconsumer benchmark: {args.images} photos, {settings.detector.model} @ {settings.detector.input_size}, "
        f"{settings.detector.threads} OpenCV threads, prefetch {settings.prefetch}, {settings.workers} I/O workers\n"
        f"  bare detector loop (disk -> decode -> detect): {bare:6.1f} images/s "
        f"(before {bare_before:.1f}, after {bare_after:.1f})\n"
        f"  consumer (Kafka -> S3 -> decode -> detect -> S3): {consumer['images_per_s']:6.1f} images/s "
        f"= {figures['ratio_consumer_to_bare']:.2f} x bare; wall {consumer['wall_s']:.1f} s "
        f"incl. {consumer['startup_s']:.1f} s start-up to the first image\n"
        f"  median per image (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in consumer["timings_ms"].items()) + "\n"
        f"  latency announce -> metadata in S3 at {args.rate:g}/s over {latency['images']} images: "
        f"p50 {latency['p50_ms']:.0f} ms, p95 {latency['p95_ms']:.0f} ms, max {latency['max_ms']:.0f} ms\n"
        f"  consumer peak RSS: {consumer['peak_rss_mb']:.0f} MB (throughput run), "
        f"{latency['peak_rss_mb']:.0f} MB (latency run)"
    )
    save_figures(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
