"""Freshness: seconds from a photo landing in new_pics/ to its counts being visible through
the API, with the whole pipeline running as `make demo` runs it (the Procfile under honcho:
producer watching new_pics/, consumer, live indexer, scheduler, dashboard).

Photos land at a steady rate (default: 2 and then 5 per second), each a distinct variant of
one of darknet's sample photos in a folder of its own, so its folder name (its source) shows
in /api/sources once its counts are in. A poller asks the API every --poll-s seconds. Goal:
p95 under 5 s. In the same run, the baseline is the consumer's own time per image
(download, decode, detect, write; from its Prometheus histogram): freshness / baseline is
what the rest of the pipeline adds around detection.

    python -m benchmarks.freshness --help
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import cv2
from confluent_kafka.admin import AdminClient

from benchmarks.common import argument_parser, save_figures
from local_services.provision import (
    admin_kafka_config,
    create_stage_topics,
    grant_on,
    kafka_names,
    revoke,
    run_names,
)
from local_services.settings import AccessSettings
from pipeline_common.clients import elasticsearch_client, s3_client
from pipeline_common.environment import child_environment, read_environment
from pipeline_common.logs import configure_logging
from pipeline_common.settings import ElasticsearchSettings, S3Settings
from scripts.demo import start_watching

log = logging.getLogger("freshness")
PHOTOS = [Path("/usr/share/darknet/data") / name for name in ("dog.jpg", "person.jpg", "horses.jpg", "eagle.jpg")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, timeout: float = 10.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return answer.read()


def photo_variants(count: int, tag: str) -> list[bytes]:
    """Distinct JPEGs (image ids are content hashes): each carries its number."""
    images = [cv2.imread(str(path)) for path in PHOTOS if path.is_file()]
    if not images:
        raise SystemExit("no sample photos in /usr/share/darknet/data (Debian's darknet package; scripts/setup.sh)")
    variants = []
    for number in range(count):
        image = images[number % len(images)].copy()
        cv2.putText(image, f"{tag}-{number}", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
        variants.append(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    return variants


class Watcher(threading.Thread):
    """Polls /api/sources and notes when each source first shows."""

    def __init__(self, base: str, poll_s: float):
        super().__init__(daemon=True)
        self.base, self.poll_s = base, poll_s
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        query = urllib.parse.urlencode({"from": "now-2d", "to": "now"})
        while not self.stop.is_set():
            try:
                sources = json.loads(get(f"{self.base}/api/sources?{query}"))["sources"]
            except OSError as error:
                log.debug("poll failed: %s", error)
            else:
                now = time.time()
                for source in sources:
                    name = source if isinstance(source, str) else source.get("source", source.get("name"))
                    self.seen.setdefault(name, now)
            self.stop.wait(self.poll_s)


def land(folder: Path, name: str, data: bytes) -> float:
    """Write next to the target and rename: the file appears whole, at the returned time."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder.parent.parent, delete=False, suffix=".part") as part:
        part.write(data)
    os.replace(part.name, folder / name)
    return time.time()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def measure(new_pics: Path, watcher: Watcher, rate: float, count: int, tag: str, timeout_s: float) -> dict:
    variants = photo_variants(count, tag)
    landed: dict[str, float] = {}
    started = time.monotonic()
    for number, data in enumerate(variants):
        delay = started + number / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        source = f"{tag}-{number:03d}"
        landed[source] = land(new_pics / source, "photo.jpg", data)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not all(source in watcher.seen for source in landed):
        time.sleep(0.2)
    latencies = [watcher.seen[source] - moment for source, moment in landed.items() if source in watcher.seen]
    missing = len(landed) - len(latencies)
    result = {
        "rate_per_s": rate,
        "images": count,
        "visible": len(latencies),
        "missing": missing,
        "landed": landed,
        "seen": {source: watcher.seen[source] for source in landed if source in watcher.seen},
    }
    if latencies:
        result.update(
            p50_s=round(statistics.median(latencies), 2),
            p95_s=round(percentile(latencies, 0.95), 2),
            max_s=round(max(latencies), 2),
        )
    return result


# Where the seconds go, from what each stage records of a photo: the producer's upload
# time and its announcement's Kafka timestamp, the consumer's processed_at, the live
# indexer's indexed_at (both in the live document), the poller's first sight.
SEGMENTS = (
    ("producer: settle, prepare, upload", "landed", "uploaded"),
    ("announce (Kafka)", "uploaded", "announced"),
    ("consumer: queue, download, detect", "announced", "processed"),
    ("metadata, event, live indexer", "processed", "indexed"),
    ("bulk, refresh, API poll", "indexed", "seen"),
)


def announcements(env, topic: str) -> dict[str, tuple[float, float]]:
    """image id -> (uploaded_at, Kafka timestamp) of every announcement on `topic`."""
    from confluent_kafka import Consumer

    from pipeline_common.contracts import ImageAnnouncement
    from pipeline_common.settings import KafkaAdminSettings

    consumer = Consumer(
        {
            **KafkaAdminSettings.from_env(env).client_config(),
            "group.id": f"fresh-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    found, idle = {}, 0
    try:
        consumer.subscribe([topic])
        while idle < 5:
            message = consumer.poll(1.0)
            if message is None or message.error():
                idle += 1
                continue
            idle = 0
            announcement = ImageAnnouncement.from_json_bytes(message.value())
            found[announcement.image_id] = (announcement.uploaded_at.timestamp(), message.timestamp()[1] / 1000)
    finally:
        consumer.close()
    return found


def live_documents(env, prefix: str) -> dict[str, dict]:
    """source -> its live document (one photo per source here)."""
    es = elasticsearch_client(ElasticsearchSettings.from_env(env))
    try:
        es.indices.refresh(index=f"{prefix}*", allow_no_indices=True, ignore_unavailable=True)
        hits = es.search(index=f"{prefix}*", size=10_000, query={"match_all": {}})["hits"]["hits"]
    finally:
        es.close()
    return {hit["_source"]["source"]: {**hit["_source"], "image_id": hit["_id"]} for hit in hits}


def breakdown(run: dict, documents: dict[str, dict], announced: dict[str, tuple[float, float]]) -> dict:
    """p50 and p95 of each segment over the photos of `run` whose every moment is known."""
    from pipeline_common.timestamps import parse_iso

    spans: dict[str, list[float]] = {name: [] for name, _, _ in SEGMENTS}
    for source, landed in run["landed"].items():
        document = documents.get(source)
        if document is None or source not in run["seen"] or document["image_id"] not in announced:
            continue
        uploaded, announced_at = announced[document["image_id"]]
        moments = {
            "landed": landed,
            "uploaded": uploaded,
            "announced": announced_at,
            "processed": parse_iso(document["processed_at"]).timestamp(),
            "indexed": parse_iso(document["indexed_at"]).timestamp(),
            "seen": run["seen"][source],
        }
        for name, start, end in SEGMENTS:
            spans[name].append(moments[end] - moments[start])
    return {
        name: {"p50_s": round(statistics.median(values), 2), "p95_s": round(percentile(values, 0.95), 2)}
        for name, values in spans.items()
        if values
    }


def consumer_seconds_per_image(port: int) -> float | None:
    """Mean time per image inside the consumer (its detection histogram)."""
    try:
        text = get(f"http://127.0.0.1:{port}/metrics").decode()
    except OSError:
        return None
    total = re.search(r"^pipeline_consumer_detection_seconds_sum (\S+)$", text, re.M)
    count = re.search(r"^pipeline_consumer_detection_seconds_count (\S+)$", text, re.M)
    if not total or not count or float(count.group(1)) == 0:
        return None
    return float(total.group(1)) / float(count.group(1))


def drop_indices(env, names: dict[str, str]) -> None:
    """This run's indices, by name (Elasticsearch refuses wildcard deletes by default)."""
    es = elasticsearch_client(ElasticsearchSettings.from_env(env))
    try:
        live = list(
            es.options(ignore_status=404)
            .indices.get(index=f"{names['ES_LIVE_INDEX_PREFIX']}*", allow_no_indices=True, expand_wildcards="open")
            .keys()
        )
        for index in [*live, names["ES_INDEX"], names["ES_RUNS_INDEX"], names["SCHEDULER_LOCK_INDEX"]]:
            es.options(ignore_status=404).indices.delete(index=index)
    finally:
        es.close()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argument_parser(__doc__, "freshness")
    parser.add_argument("--rates", type=float, nargs="+", default=[2.0, 5.0], help="photos per second (default: 2 5)")
    parser.add_argument("--seconds", type=float, default=15.0, help="how long photos land at each rate (default: 15)")
    parser.add_argument("--poll-s", type=float, default=0.25, help="API poll interval (default: 0.25)")
    parser.add_argument("--timeout", type=float, default=180.0, help="wait this long for the last photo (default: 180)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.verbose)
    env = read_environment()
    es = ElasticsearchSettings.from_env(env)
    suffix = uuid.uuid4().hex[:8]
    names = {
        **run_names("fresh", suffix, es.index, es.live_index_prefix),
        # in the families of the configured indices, which each stage's own account may use
        "ES_RUNS_INDEX": f"{es.runs_index}-fresh-{suffix}",
        "SCHEDULER_LOCK_INDEX": f"pipeline-batch-locks-fresh-{suffix}",
        # the images topic starts empty, so the producer's and consumer's start-up is the
        # only wait before the first photo
        "KAFKA_AUTO_OFFSET_RESET": "earliest",
    }
    ports = {
        "dashboard": free_port(),
        "CONSUMER_METRICS_PORT": free_port(),
        "LIVE_METRICS_PORT": free_port(),
        "SCHEDULER_METRICS_PORT": free_port(),
        "FRONTEND_METRICS_PORT": free_port(),
        "ARCHIVER_METRICS_PORT": free_port(),
    }
    s3 = s3_client(S3Settings.from_env(env))
    s3.create_bucket(Bucket=names["S3_BUCKET"])
    admin = AdminClient(admin_kafka_config(env))
    acls = grant_on(admin, AccessSettings.from_env(env), **kafka_names(names))
    create_stage_topics(admin, names, detections_partitions=3)
    work = Path(tempfile.mkdtemp(prefix="freshness-"))
    new_pics = work / "new_pics"
    process_env = {
        **child_environment(),
        **names,
        "PRODUCER_FRAMES_DIR": str(work / "frames"),
        **{k: str(v) for k, v in ports.items() if k != "dashboard"},
    }
    log_file = open(work / "pipeline.log", "wb")
    pipeline = start_watching(new_pics, ports["dashboard"], process_env, log_file)
    base = f"http://127.0.0.1:{ports['dashboard']}"
    results: dict = {"goal_p95_s": 5.0, "runs": []}
    watcher = Watcher(base, args.poll_s)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                get(f"{base}/api/health", 5)
                break
            except OSError:
                if time.monotonic() > deadline or pipeline.poll() is not None:
                    raise SystemExit(f"the pipeline did not start; see {work / 'pipeline.log'}") from None
                time.sleep(1)
        watcher.start()
        # one photo first: models loaded, topics and indices created, consumers assigned
        warm = measure(new_pics, watcher, 1.0, 1, f"warmup-{suffix}", args.timeout)
        log.info("warm-up photo visible after %s s", warm.get("p50_s"))
        for rate in args.rates:
            count = max(1, round(rate * args.seconds))
            run = measure(new_pics, watcher, rate, count, f"r{rate:g}-{suffix}", args.timeout)
            results["runs"].append(run)
            log.info("%s", run)
        baseline = consumer_seconds_per_image(ports["CONSUMER_METRICS_PORT"])
        results["baseline_detection_s_per_image"] = round(baseline, 3) if baseline else None
        documents = live_documents(env, names["ES_LIVE_INDEX_PREFIX"])
        announced = announcements(env, names["KAFKA_IMAGES_TOPIC"])
        for run in results["runs"]:
            run["segments"] = breakdown(run, documents, announced)
            del run["landed"], run["seen"]
        results["load_average"] = os.getloadavg()
    finally:
        watcher.stop.set()
        if pipeline.poll() is None:
            os.killpg(pipeline.pid, signal.SIGINT)
            pipeline.wait(120)
        log_file.close()
        drop_indices(env, names)
        revoke(admin, acls)
        admin.delete_topics(
            [
                names[name]
                for name in (
                    "KAFKA_IMAGES_TOPIC",
                    "KAFKA_DEAD_LETTER_TOPIC",
                    "KAFKA_DETECTIONS_TOPIC",
                    "KAFKA_DETECTIONS_DEAD_LETTER_TOPIC",
                )
            ],
            operation_timeout=10,
        )
    print(f"\nfreshness (file lands in new_pics/ -> its counts in /api/sources), poll every {args.poll_s} s")
    baseline = results["baseline_detection_s_per_image"]
    print(f"baseline, the consumer's detection time per image: {baseline} s")
    print(
        f"{'rate/s':>7} {'images':>7} {'visible':>8} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'p95/goal':>9} "
        f"{'p50/baseline':>13}"
    )
    for run in results["runs"]:
        p50, p95 = run.get("p50_s"), run.get("p95_s")
        print(
            f"{run['rate_per_s']:>7g} {run['images']:>7} {run['visible']:>8} {p50!s:>7} {p95!s:>7} "
            f"{run.get('max_s')!s:>7} {(p95 / 5.0 if p95 else float('nan')):>9.2f} "
            f"{(p50 / baseline if p50 and baseline else float('nan')):>13.1f}"
        )
    for run in results["runs"]:
        print(f"\n{run['rate_per_s']:g} photos/s, where the seconds go (p50 / p95):")
        for name, figures in run["segments"].items():
            print(f"  {name:<36} {figures['p50_s']:>6} {figures['p95_s']:>6}")
    print(f"\nload average at the end (1, 5, 15 min): {' '.join(f'{x:.1f}' for x in results['load_average'])}")
    save_figures(args.json, results)
    return 0 if all(run["missing"] == 0 for run in results["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
