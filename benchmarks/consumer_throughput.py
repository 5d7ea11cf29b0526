"""Consumer throughput, latency and memory against the real local Kafka and S3, as
ratios to the original design's sequential consumer measured in the same run.

Makes a few hundred distinct real photos (flips, crops and rescalings of the photos in
Debian's darknet package, plus scikit-image's and matplotlib's sample photos when those
packages are installed), uploads them to a bench bucket of their own (so the real
bucket's metadata/ prefix, which the aggregation job reads, stays clean), then runs
each scenario on the same images, each on a fresh 3-partition topic and consumer group:

  sequential      benchmarks/sequential_consumer.py: the original design's loop (one
                  image at a time: download, decode, detect, upload JSON, commit), run
                  first and last; its mean is the baseline;
  consumer        object-detector: I/O and resizing in worker threads,
                  inference in the main thread, offsets stored when durable;
  ... xN          N consumer processes in the same group (scale-out);
  ... onnx        DETECTOR_BACKEND=onnxruntime (same weights, converted).

The consumers are started and have joined their group before anything is announced;
then every image is announced at once. images/s = images / (last record's
processed_at - first announcement). Each scenario checks that every image got
exactly one metadata record and that the processes together processed each message
once (their "processed" counts add up to the number of images). Peak memory is each
process's ru_maxrss; CPU ms per image is what the processes used after start-up
(less sensitive than images/s to other work on a shared host). A latency run then
announces --latency-images at --rate per second to the consumer and to the sequential
baseline: announce -> record visible in S3 (a watcher lists metadata/ every 20 ms),
p50 / p95.

Needs the local services (`make up`). Bucket and topics are deleted afterwards.

    python -m benchmarks.consumer_throughput --help
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from PIL import Image, ImageOps
from tqdm import tqdm

from benchmarks.common import argument_parser, configured, save_figures
from consumer.app import load_detector
from consumer.decode import decode_image
from consumer.settings import ConsumerSettings
from local_services.provision import admin_kafka_config, grant_on, revoke
from local_services.settings import AccessSettings
from pipeline_common.clients import s3_client
from pipeline_common.contracts import ImageAnnouncement, MetadataRecord, image_key, metadata_key
from pipeline_common.environment import PROJECT_ROOT
from pipeline_common.logs import configure_logging
from pipeline_common.s3 import delete_prefix
from pipeline_common.timestamps import utc_now

log = logging.getLogger("benchmarks.consumer_throughput")
CONSUMER = PROJECT_ROOT / "consumer" / "main_consumer.py"
SEQUENTIAL = Path(__file__).resolve().parent / "sequential_consumer.py"
DARKNET = Path("/usr/share/darknet/data")
PARTITIONS = 3


@dataclass(frozen=True)
class Scenario:
    name: str
    script: Path
    processes: int = 1
    env: tuple[tuple[str, str], ...] = ()  # settings for these processes


SCENARIOS = {
    "sequential": Scenario("sequential baseline (cv2)", SEQUENTIAL),
    "consumer": Scenario("consumer, cv2, 1 process x 2 threads", CONSUMER),
    "consumer-1t": Scenario("consumer, cv2, 1 process x 1 thread", CONSUMER, 1, (("DETECTOR_THREADS", "1"),)),
    "consumer-x2": Scenario("consumer, cv2, 2 processes x 1 thread", CONSUMER, 2, (("DETECTOR_THREADS", "1"),)),
    "consumer-x3": Scenario("consumer, cv2, 3 processes x 1 thread", CONSUMER, 3, (("DETECTOR_THREADS", "1"),)),
    "onnx": Scenario(
        "consumer, onnxruntime, 1 process x 2 threads", CONSUMER, 1, (("DETECTOR_BACKEND", "onnxruntime"),)
    ),
    "onnx-x2": Scenario(
        "consumer, onnxruntime, 2 processes x 1 thread",
        CONSUMER,
        2,
        (("DETECTOR_BACKEND", "onnxruntime"), ("DETECTOR_THREADS", "1")),
    ),
    "sequential-onnx": Scenario(
        "sequential baseline (onnxruntime)", SEQUENTIAL, 1, (("DETECTOR_BACKEND", "onnxruntime"),)
    ),
}
DEFAULT_SCENARIOS = ("consumer", "consumer-1t", "consumer-x2", "consumer-x3", "onnx", "onnx-x2")


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
    admin: AdminClient  # the broker's own account: topics, ACLs, announcing
    admin_config: dict[str, str]
    bucket: str
    workdir: Path
    acls: list = field(default_factory=list)

    def topics(self, tag: str) -> tuple[str, str, str]:
        """Fresh images, dead-letter and detections topics (the last keeps the benchmark's
        events away from the live indexer of the shared stack)."""
        images, dead, events = (
            f"consumer-bench-{kind}{tag}-{uuid.uuid4().hex[:8]}" for kind in ("", "dead-", "events-")
        )
        created = self.admin.create_topics(
            [NewTopic(images, PARTITIONS, 1), NewTopic(dead, 1, 1), NewTopic(events, 1, 1)]
        )
        for future in created.values():
            future.result(timeout=30)
        return images, dead, events

    def process_env(self, scenario: Scenario, topics: tuple[str, str, str], group: str) -> dict[str, str]:
        """The consumers' environment; their own account gets the detector's rights on these names."""
        images, dead, events = topics
        self.acls += grant_on(
            self.admin,
            AccessSettings.from_env(self.env),
            images_topic=images,
            dead_letter_topic=dead,
            detections_topic=events,
            consumer_group=group,
        )
        return {
            **self.env,
            "S3_BUCKET": self.bucket,
            "KAFKA_IMAGES_TOPIC": images,
            "KAFKA_DEAD_LETTER_TOPIC": dead,
            "KAFKA_DETECTIONS_TOPIC": events,
            "KAFKA_CONSUMER_GROUP": group,
            **dict(scenario.env),
        }

    def start(self, script: Path, env: dict[str, str], *args: str) -> tuple[subprocess.Popen, Path]:
        log_path = self.workdir / f"{script.stem}-{uuid.uuid4().hex[:6]}.log"
        with log_path.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, str(script), *args], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        return process, log_path

    def metadata_keys(self) -> list[str]:
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix="metadata/"):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return keys

    def clear_metadata(self) -> None:
        for key in self.metadata_keys():
            self.s3.delete_object(Bucket=self.bucket, Key=key)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a running process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_rusage(process: subprocess.Popen, timeout_s: float) -> tuple[int, float, float]:
    """(exit code, peak RSS in MB, CPU seconds) of a consumer process."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
        time.sleep(0.05)
    process.kill()
    raise SystemExit(f"process {process.pid} did not finish within {timeout_s:.0f} s")


def announce(bench: Bench, topic: str, announcements, rate: float | None = None) -> list[float]:
    """Send announcements (at `rate` per second if given); return each one's send time."""
    producer = Producer({**bench.admin_config, "linger.ms": 0 if rate else 20})
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


def start_group(bench: Bench, scenario: Scenario, tag: str) -> tuple[list, str, tuple[str, str, str]]:
    """Start the scenario's processes on fresh topics and group; return once each
    has partitions (so nothing is announced into a rebalance)."""
    topics = bench.topics(tag)
    images = topics[0]
    env = bench.process_env(scenario, topics, f"consumer-bench-{uuid.uuid4().hex[:8]}")
    processes = [bench.start(scenario.script, env) for _ in range(scenario.processes)]
    deadline = time.monotonic() + 120
    assigned = re.compile(rf"assigned .*{re.escape(images)}/\d")
    while not all(assigned.search(log_path.read_text()) for _, log_path in processes):
        for process, log_path in processes:
            if process.poll() is not None:
                raise SystemExit(f"{scenario.name}: a process exited early; its log: {log_path}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{scenario.name}: the processes did not all get partitions within 120 s")
        time.sleep(0.1)
    time.sleep(1.0)  # let a cooperative rebalance finish moving partitions
    return processes, images, topics


def stop_group(bench: Bench, processes, topics: tuple[str, str, str]) -> tuple[list[float], int, float]:
    """SIGTERM, then (peak RSS per process in MB, messages processed in total, CPU
    seconds of all processes together); the topics are deleted."""
    for process, _ in processes:
        process.send_signal(signal.SIGTERM)
    peaks, processed, cpu = [], 0, 0.0
    for process, log_path in processes:
        code, peak, used = wait_rusage(process, timeout_s=120)
        cpu += used
        if code != 0:
            raise SystemExit(f"exit code {code}; log: {log_path}")
        peaks.append(peak)
        counts = re.findall(r"(\d+) processed", log_path.read_text())
        processed += int(counts[-1]) if counts else 0
    bench.admin.delete_topics(list(topics), operation_timeout=10)
    return peaks, processed, cpu


def throughput_run(bench: Bench, scenario: Scenario, announcements) -> dict:
    bench.clear_metadata()
    processes, images, topics = start_group(bench, scenario, "throughput")
    cpu_before = sum(cpu_seconds(process.pid) for process, _ in processes)  # start-up and model load
    started = time.time()
    announce(bench, images, announcements)
    wanted = {metadata_key(a.image_id) for a in announcements}
    deadline = time.monotonic() + 1800
    with tqdm(total=len(wanted), desc=scenario.name, unit="img", leave=False) as bar:
        while True:
            done = len(wanted & set(bench.metadata_keys()))
            bar.update(done - bar.n)
            if done == len(wanted):
                break
            if time.monotonic() > deadline or any(p.poll() is not None for p, _ in processes):
                raise SystemExit(f"{scenario.name}: {done} of {len(wanted)} records; logs: {processes}")
            time.sleep(0.25)
    peaks, processed, cpu = stop_group(bench, processes, topics)
    keys = bench.metadata_keys()
    records = []
    for announcement in announcements:
        body = bench.s3.get_object(Bucket=bench.bucket, Key=metadata_key(announcement.image_id))["Body"].read()
        records.append(MetadataRecord.from_json_bytes(body))
    last = max(r.processed_at.timestamp() for r in records)
    return {
        "scenario": scenario.name,
        "processes": scenario.processes,
        "images_per_s": len(records) / (last - started),
        "records": len(keys),
        "one_record_per_image": sorted(keys) == sorted(wanted),
        "processed_in_total": processed,
        "peak_rss_mb": max(peaks),
        "peak_rss_mb_all_processes": sum(peaks),
        # CPU the processes used per image (after start-up): less sensitive to a busy host
        "cpu_ms_per_image": (cpu - cpu_before) * 1000 / len(announcements),
        "model": records[0].model.name,
        "runtime": records[0].model.runtime,
        "detections": sum(len(r.detections) for r in records),
        "timings_ms": {
            stage: statistics.median(r.timings_ms[stage] for r in records)
            for stage in ("download", "decode", "resize", "inference", "total")
            if stage in records[0].timings_ms
        },
    }


def latency_run(bench: Bench, scenario: Scenario, announcements, rate: float) -> dict:
    bench.clear_metadata()
    processes, images, topics = start_group(bench, scenario, "latency")
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
    sent = announce(bench, images, announcements, rate=rate)
    wanted = [metadata_key(a.image_id) for a in announcements]
    deadline = time.monotonic() + 120
    while not all(key in seen for key in wanted) and time.monotonic() < deadline:
        time.sleep(0.1)
    done.set()
    watcher.join()
    peaks, _, _ = stop_group(bench, processes, topics)
    latencies = sorted((seen[key] - at) * 1000 for key, at in zip(wanted, sent, strict=False) if key in seen)
    if len(latencies) < len(wanted):
        raise SystemExit(f"{scenario.name}: only {len(latencies)} of {len(wanted)} records appeared")
    return {
        "scenario": scenario.name,
        "rate_per_s": rate,
        "images": len(latencies),
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[max(0, int(round(0.95 * len(latencies))) - 1)],
        "max_ms": latencies[-1],
        "peak_rss_mb": max(peaks),
    }


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} on {os.cpu_count()} cores"


def upload_all(bench: Bench, blobs: list[bytes]) -> tuple[list[ImageAnnouncement], list[Path]]:
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
            image_id=image_id,
            image_path=f"s3://{bench.bucket}/{image_key(image_id)}",
            source=f"bench-{n % 3}",
            captured_at=now,
            uploaded_at=now,
            size_bytes=len(data),
            width=width,
            height=height,
        ), path

    with ThreadPoolExecutor(4) as pool:
        done = list(tqdm(pool.map(put, enumerate(blobs)), total=len(blobs), desc="upload", unit="img", leave=False))
    return [a for a, _ in done], [p for _, p in done]


def report(figures: dict) -> str:
    base = figures["baseline_images_per_s"]
    lines = [
        f"\nconsumer benchmark: {figures['images']} photos, {figures['model']} @ {figures['input_size']}, "
        f"{PARTITIONS} partitions; {figures['load_before']} before, {figures['load_after']} after",
        f"  bare detector loop in this process (disk -> decode -> detect): {figures['bare_images_per_s']:.1f} images/s",
        f"  {'scenario':<52} {'images/s':>9} {'x baseline':>11} {'CPU ms/img':>11} {'peak RSS MB':>12}"
        "  one record each, processed",
    ]
    for run in figures["throughput"]:
        memory = f"{run['peak_rss_mb']:.0f}" + (f" x{run['processes']}" if run["processes"] > 1 else "")
        lines.append(
            f"  {run['scenario']:<52} {run['images_per_s']:9.2f} {run['images_per_s'] / base:10.2f}x "
            f"{run['cpu_ms_per_image']:11.0f} {memory:>12}"
            f"  {'yes' if run['one_record_per_image'] else 'NO'}, {run['processed_in_total']}"
        )
    for run in figures["throughput"]:
        lines.append(
            f"  median ms per image, {run['scenario']}: "
            + ", ".join(f"{k} {v:.1f}" for k, v in run["timings_ms"].items())
        )
    for run in figures.get("latency", []):
        lines.append(
            f"  latency announce -> record at {run['rate_per_s']:g}/s over {run['images']} images, {run['scenario']}: "
            f"p50 {run['p50_ms']:.0f} ms, p95 {run['p95_ms']:.0f} ms, max {run['max_ms']:.0f} ms"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__, "consumer_throughput")
    parser.add_argument("--images", type=int, default=200, help="photos per throughput run (default 200)")
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=sorted(set(SCENARIOS) - {"sequential"}),
        default=list(DEFAULT_SCENARIOS),
        metavar="NAME",
        help=f"besides the sequential baseline (default: {' '.join(DEFAULT_SCENARIOS)}; "
        f"all: {' '.join(sorted(set(SCENARIOS) - {'sequential'}))})",
    )
    parser.add_argument("--rate", type=float, default=4.0, help="announcements per second in the latency run")
    parser.add_argument("--latency-images", type=int, default=40, help="photos in the latency run (0: skip it)")
    args = parser.parse_args(argv)
    if args.images < 10 or not 0 <= args.latency_images <= args.images or args.rate <= 0:
        parser.error("need --images >= 10, 0 <= --latency-images <= --images and --rate > 0")
    configure_logging(args.verbose)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still delete the bucket and topics
    env, settings = configured(ConsumerSettings)

    s3 = s3_client(settings.s3)
    bucket = f"consumer-bench-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    figures = {
        "images": args.images,
        "model": settings.detector.model,
        "input_size": settings.detector.input_size,
        "load_before": load_average(),
    }
    with tempfile.TemporaryDirectory(prefix="consumer-bench-") as workdir:
        admin_config = admin_kafka_config(env)
        bench = Bench(settings, env, s3, AdminClient(admin_config), admin_config, bucket, Path(workdir))
        try:
            photos = base_photos()
            log.info("%d base photos -> %d variants in s3://%s", len(photos), args.images, bucket)
            announcements, files = upload_all(bench, variants(photos, args.images))
            figures["bare_images_per_s"] = bare_loop(settings, load_detector(settings), files, "bare detector loop")
            runs = [throughput_run(bench, SCENARIOS["sequential"], announcements)]
            for name in args.scenarios:
                runs.append(throughput_run(bench, SCENARIOS[name], announcements))
            runs.append(throughput_run(bench, SCENARIOS["sequential"], announcements))
            first, last = runs[0], runs.pop()
            first["scenario"] += " (mean of 1st and last)"
            first["runs_images_per_s"] = [first["images_per_s"], last["images_per_s"]]
            first["images_per_s"] = (first["images_per_s"] + last["images_per_s"]) / 2
            first["cpu_ms_per_image"] = (first["cpu_ms_per_image"] + last["cpu_ms_per_image"]) / 2
            figures["throughput"] = runs
            figures["baseline_images_per_s"] = first["images_per_s"]
            if args.latency_images:
                subset = announcements[: args.latency_images]
                figures["latency"] = [
                    latency_run(bench, SCENARIOS["consumer"], subset, args.rate),
                    latency_run(bench, SCENARIOS["sequential"], subset, args.rate),
                ]
        finally:
            revoke(bench.admin, bench.acls)
            delete_prefix(s3, bucket, "")
            s3.delete_bucket(Bucket=bucket)
    figures["load_after"] = load_average()
    print(report(figures))
    save_figures(args.json, figures)
    return 0 if all(run["one_record_per_image"] for run in figures["throughput"]) else 1


if __name__ == "__main__":
    sys.exit(main())
