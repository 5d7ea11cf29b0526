"""Latency of the gallery's thumbnails under 20 concurrent clients: cold cache, warm cache,
and the same originals fetched straight from S3, in the same run.

Stores N distinct photos (the darknet sample photos, mirrored, cropped and re-encoded
so each has its own id) under images/ in the pipeline's bucket, serves the app with
gunicorn (gthread workers) on 127.0.0.1 with the dashboard's own S3 keys, and drives it
with C client threads (one keep-alive HTTP session each):
  1. cold   GET /api/images/<id>/thumbnail, each id once: every thumbnail is made
            (S3 read + decode + resize + encode)
  2. warm   the same requests again, several rounds, after as many unmeasured rounds
            (each gunicorn worker keeps its own cache; the share answered from it is
            reported)
  3. S3     GET images/<id>.jpg straight from S3 with boto3 (the dashboard's keys), the
            same clients and objects: what streaming the original would cost at least
p50/p95/p99 per phase and their ratios to the S3 figures. Only 127.0.0.1 is targeted;
the photos are deleted afterwards. Needs the local services (make up).

    python -m benchmarks.thumbnail_latency --help
"""

from __future__ import annotations

import hashlib
import io
import logging
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from PIL import Image, ImageOps

from benchmarks.common import argument_parser, configured, free_port, save_figures, stop, table, wait_for
from pipeline_common.clients import s3_client
from pipeline_common.contracts import image_key
from pipeline_common.environment import PROJECT_ROOT, child_environment
from pipeline_common.logs import configure_logging
from pipeline_common.settings import FrontendS3Settings, S3Settings

log = logging.getLogger("benchmarks.thumbnail_latency")

PHOTOS = Path("/usr/share/darknet/data")
NAMES = ("dog.jpg", "person.jpg", "horses.jpg", "eagle.jpg", "kite.jpg", "giraffe.jpg", "scream.jpg")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Phase:
    name: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    cache_hits: int = 0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else 0.0


def photos(count: int) -> list[bytes]:
    """`count` distinct JPEGs from the sample photos (mirrored, cropped, re-encoded)."""
    made = []
    for n in range(count):
        with Image.open(PHOTOS / NAMES[n % len(NAMES)]) as original:
            image = original.convert("RGB")
        variant = n // len(NAMES)
        if variant % 2:
            image = ImageOps.mirror(image)
        cut = 0.01 * (variant // 2)
        w, h = image.size
        image = image.crop((int(w * cut), int(h * cut), w - int(w * cut), h - int(h * cut)))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=88)
        made.append(out.getvalue())
    return made


def run_phase(name: str, jobs: list[str], clients: int, fetch) -> Phase:
    """`fetch(session, job)` -> (ok, cache hit) for each job, `clients` at a time."""
    local = threading.local()
    latencies, errors, hits = [], [0], [0]
    lock = threading.Lock()

    def one(job: str) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        started = time.perf_counter()
        ok, hit = fetch(session, job)
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            latencies.append(elapsed)
            errors[0] += not ok
            hits[0] += hit

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(one, jobs))
    seconds = time.perf_counter() - started
    return Phase(
        name,
        len(jobs),
        errors[0],
        seconds,
        statistics.median(latencies),
        percentile(latencies, 95),
        percentile(latencies, 99),
        hits[0],
    )


def parse_args(argv):
    parser = argument_parser(__doc__, "thumbnail_latency")
    parser.add_argument("--images", type=int, default=200, help="distinct photos stored (default 200)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    parser.add_argument("--warm-rounds", type=int, default=3, help="rounds over every photo, warm (default 3)")
    parser.add_argument("--size", type=int, default=320, help="thumbnail size asked for (default 320)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--worker-threads", type=int, default=10, help="threads per gunicorn worker (default 10)")
    args = parser.parse_args(argv)
    if not 1 <= args.images <= 5000 or not 1 <= args.clients <= 200:
        parser.error("--images must be 1-5000 and --clients 1-200")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    configure_logging(args.verbose)
    _, admin = configured(S3Settings)
    _, dashboard = configured(FrontendS3Settings)
    if urlsplit(admin.endpoint_url).hostname not in LOCAL_HOSTS:
        log.error("S3_ENDPOINT_URL %s is not on this machine: the benchmark only loads 127.0.0.1", admin.endpoint_url)
        return 2
    writer = s3_client(admin)
    reader = s3_client(dashboard, max_pool_connections=args.clients + 4)
    data = photos(args.images)
    ids = [hashlib.sha256(b"bench-thumbnails" + photo).hexdigest()[:32] for photo in data]
    port, server = free_port(), None
    try:
        for image_id, photo in zip(ids, data, strict=True):
            writer.put_object(Bucket=admin.bucket, Key=image_key(image_id), Body=photo, ContentType="image/jpeg")
        log.info("stored %d photos (%.0f KB on average)", len(ids), sum(map(len, data)) / len(data) / 1024)
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--workers",
                str(args.workers),
                "--worker-class",
                "gthread",
                "--threads",
                str(args.worker_threads),
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "simple_frontend.app:create_app()",
            ],
            cwd=PROJECT_ROOT,
            env=child_environment(),
        )
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/", timeout=60)

        def thumbnail(session, image_id):
            answer = session.get(f"{base}/api/images/{image_id}/thumbnail?size={args.size}", timeout=30)
            return answer.status_code == 200, answer.headers.get("X-Thumbnail-Cache") == "hit"

        def straight(_session, image_id):
            body = reader.get_object(Bucket=admin.bucket, Key=image_key(image_id))["Body"]
            body.read()
            return True, False

        results = [
            run_phase("S3 GET original (baseline)", ids, args.clients, straight),
            run_phase("thumbnail, cold cache", ids, args.clients, thumbnail),
        ]
        run_phase("priming", ids * args.warm_rounds, args.clients, thumbnail)  # every worker's cache
        results += [
            run_phase("thumbnail, warm cache", ids * args.warm_rounds, args.clients, thumbnail),
            run_phase("S3 GET original (again)", ids, args.clients, straight),
        ]
    finally:
        if server is not None:
            stop(server)
        for image_id in ids:
            writer.delete_object(Bucket=admin.bucket, Key=image_key(image_id))

    report(results, args)
    save_figures(args.json, [{**asdict(r), "rate": r.rate} for r in results])
    if any(r.errors for r in results):
        log.error("some requests failed: %s", ", ".join(r.name for r in results if r.errors))
        return 1
    return 0


def report(results: list[Phase], args) -> None:
    baseline = statistics.mean([results[0].p50_ms, results[-1].p50_ms]) or 1e-9
    baseline95 = statistics.mean([results[0].p95_ms, results[-1].p95_ms]) or 1e-9
    print(
        f"\n{args.clients} clients, {args.images} photos, thumbnails of {args.size} px, "
        f"gunicorn {args.workers} workers x {args.worker_threads} threads"
    )
    rows = [
        [
            r.name,
            str(r.requests),
            f"{r.rate:.0f}",
            f"{r.p50_ms:.1f}",
            f"{r.p95_ms:.1f}",
            f"{r.p99_ms:.1f}",
            f"{r.p50_ms / baseline:.2f}",
            f"{r.p95_ms / baseline95:.2f}",
            f"{100 * r.cache_hits / r.requests:.0f}%" if "thumbnail" in r.name else "-",
            str(r.errors),
        ]
        for r in results
    ]
    print(
        table(
            [
                ("phase", 28),
                ("requests", 9),
                ("req/s", 7),
                ("p50 ms", 8),
                ("p95 ms", 8),
                ("p99 ms", 8),
                ("p50/S3", 7),
                ("p95/S3", 7),
                ("cached", 7),
                ("errors", 7),
            ],
            rows,
        )
    )
    print("p50/S3, p95/S3: against the mean of the two S3 runs (before and after)")


if __name__ == "__main__":
    sys.exit(main())
