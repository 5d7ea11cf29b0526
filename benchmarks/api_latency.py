"""Latency of the dashboard's /api/timeline under concurrent clients, measured with wrk.

Seeds a fresh index with a week of synthetic object counts (minute, hour and day
documents), serves the app with gunicorn (gthread workers) on 127.0.0.1, and runs wrk
(--latency, a Lua `done` hook for p50/p95/p99) against, in the same run:
  1. GET /api/timeline                   the endpoint under test
  2. the same searches sent straight to Elasticsearch (POST /_msearch: the batch index
     before the newest run's cutoff, the live indices after it, as the app asks them)
  3. GET /api/health                     reused for FRONTEND_CACHE_MAX_STALENESS_S
The app answers from its cache (simple_frontend/cache.py) once the first request of each
worker has asked Elasticsearch; the data does not change during the run.
so the figures can be read as ratios on a shared machine. Only 127.0.0.1 is targeted.
Needs the local services (make up) and wrk (Debian package).

    python -m benchmarks.api_latency --help
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks.common import argument_parser, configured, free_port, save_figures, stop, wait_for
from pipeline_common.clients import elasticsearch_client
from pipeline_common.contracts import DetectionEvent, Interval, bucket_start
from pipeline_common.environment import PROJECT_ROOT, child_environment
from pipeline_common.logs import configure_logging
from pipeline_common.output_runs import new_run_id
from pipeline_common.settings import ElasticsearchSettings
from pipeline_common.timestamps import to_iso, utc_now
from simple_frontend.settings import FrontendSettings

log = logging.getLogger("benchmarks.api_latency")

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
LABELS = {"person": 9, "car": 6, "bicycle": 3, "dog": 2, "truck": 2, "traffic light": 1, "bus": 1, "cat": 1}
SOURCES = ("cam-a", "cam-b", "cam-c")
TIMELINE_QUERY = "from=now-7d&to=now&interval=hour&label=person&label=car&label=dog"

# wrk calls `done` once at the end; percentiles are in microseconds.
LUA_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d errors=%d p50_us=%d p95_us=%d p99_us=%d max_us=%d\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""
# The body and credentials come from the environment, so no secret is written to disk.
LUA_POST = """
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/x-ndjson"
wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_AUTH")
"""
RESULT_LINE = re.compile(
    r"RESULT requests=(\d+) duration_us=(\d+) errors=(\d+) p50_us=(\d+) p95_us=(\d+) p99_us=(\d+) max_us=(\d+)"
)


@dataclass(frozen=True)
class Latency:
    name: str
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def parse_wrk(name: str, output: str) -> Latency:
    match = RESULT_LINE.search(output)
    if not match:
        raise RuntimeError(f"wrk printed no result line for {name}:\n{output}")
    requests, duration, errors, p50, p95, p99, high = (int(value) for value in match.groups())
    return Latency(name, requests, duration / 1e6, errors, p50 / 1e3, p95 / 1e3, p99 / 1e3, high / 1e3)


def synthetic_events(days: int, seed: int = 11) -> list[DetectionEvent]:
    """A week of images, a few per minute, each with the detections of one label."""
    rng = random.Random(seed)
    end = bucket_start(utc_now(), Interval.MINUTE)
    events = []
    for minute in range(days * 24 * 60):
        moment = end - timedelta(minutes=minute)
        for label, weight in LABELS.items():
            for source in SOURCES:
                if rng.random() > 0.04 * weight:  # most minutes see nothing
                    continue
                image_id = f"{rng.getrandbits(128):032x}"
                events.append(
                    DetectionEvent(image_id, source, moment, moment, "yolov4-tiny", {label: rng.randint(1, weight + 1)})
                )
    return events


def synthetic_documents(index: str, events: list[DetectionEvent], run_id: str):
    """The events' counts rolled up to minutes, hours and days, as the indexer writes a run."""
    sums: dict[tuple, list[int]] = {}
    for event in events:
        for label, detections in event.counts.items():
            for interval in Interval:
                key = (label, event.source, interval.value, to_iso(bucket_start(event.captured_at, interval)))
                counts = sums.setdefault(key, [0, 0])
                counts[0] += detections
                counts[1] += 1
    indexed_at = to_iso(utc_now())
    for (label, source, interval, start), (detections, images) in sums.items():
        yield {
            "_index": index,
            "_source": {
                "label": label,
                "source": source,
                "interval": interval,
                "bucket_start": start,
                "detections": detections,
                "images": images,
                "run_id": run_id,
                "indexed_at": indexed_at,
            },
        }


def seed_index(es, index: str, live_prefix: str, days: int) -> int:
    """The batch index as just after a run (so the current hour is answered live) and the
    live indices with one document per image of the week, as the live indexer leaves them."""
    from elasticsearch.helpers import streaming_bulk
    from tqdm import tqdm

    from es_live.documents import action
    from es_live.index import ensure_template
    from pipeline_common.contracts.count_index import INDEX_BODY

    es.indices.create(
        index=index, mappings=INDEX_BODY["mappings"], settings={"number_of_shards": 1, "number_of_replicas": 0}
    )
    ensure_template(es, live_prefix)
    events = synthetic_events(days)
    now = utc_now()
    documents = list(synthetic_documents(index, events, new_run_id(now)))
    documents += [action(event, live_prefix, now) for event in events]
    failed = 0
    with tqdm(total=len(documents), desc=f"seeding {index} and {live_prefix}*", unit="doc") as progress:
        for ok, _item in streaming_bulk(es, documents, chunk_size=2000, raise_on_error=False):
            failed += not ok
            progress.update(1)
    if failed:
        raise RuntimeError(f"{failed} documents could not be indexed into {index}")
    es.indices.refresh(index=f"{index},{live_prefix}*")
    return len(documents)


def drop_live(es, live_prefix: str) -> None:
    from es_live.index import live_index_names, template_name

    for name in live_index_names(es, live_prefix):
        es.indices.delete(index=name, ignore_unavailable=True)
    es.options(ignore_status=404).indices.delete_index_template(name=template_name(live_prefix))


def run_wrk(name: str, url: str, args, lua: str, env: dict[str, str] | None = None, warm_up: int = 0) -> Latency:
    """wrk's figures for `url`; after `warm_up` seconds of the same load, not measured (every
    gunicorn worker has answered once, every connection is open: the steady state)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    try:
        for seconds in ([warm_up] if warm_up else []) + [args.duration]:
            command = [
                "wrk",
                f"-t{args.threads}",
                f"-c{args.connections}",
                f"-d{seconds}s",
                "--latency",
                "--timeout",
                "10s",
                "-s",
                script.name,
                url,
            ]
            log.info("wrk %s%s: %s", name, " (warm-up)" if seconds is warm_up else "", " ".join(command[:-1]))
            result = subprocess.run(
                command, capture_output=True, text=True, env=child_environment(**(env or {})), timeout=seconds + 60
            )
    finally:
        os.unlink(script.name)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed for {name} (exit {result.returncode}): {result.stderr.strip()}")
    return parse_wrk(name, result.stdout)


def parse_args(argv):
    parser = argument_parser(__doc__, "api_latency")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10, max 60)")
    parser.add_argument("--connections", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=3,
        help="seconds of the same load before each measured run, not counted (default 3; 0: none)",
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--workers", type=int, help="gunicorn worker processes (default: production's, FRONTEND_WORKERS)"
    )
    parser.add_argument(
        "--worker-threads", type=int, help="threads per gunicorn worker (default: production's, FRONTEND_THREADS)"
    )
    parser.add_argument("--days", type=int, default=7, help="days of synthetic counts to seed (default 7)")
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= 60:
        parser.error("--duration must be between 1 and 60 seconds")
    if not 1 <= args.connections <= 1000:
        parser.error("--connections must be between 1 and 1000")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    configure_logging(args.verbose)
    for tool in ("wrk", "gunicorn"):
        if not shutil.which(tool) and not (Path(sys.executable).parent / tool).exists():
            log.error("%s is not installed: run make setup", tool)
            return 2
    _, settings = configured(ElasticsearchSettings)
    # production's serving (simple_frontend/gunicorn.conf.py reads these), unless overridden
    _, served = configured(FrontendSettings, workers=args.workers, threads=args.worker_threads)
    args.workers, args.worker_threads = served.workers, served.threads
    if urlsplit(settings.url).hostname not in LOCAL_HOSTS:
        log.error("ES_URL %s is not on this machine: the benchmark only loads 127.0.0.1", settings.url)
        return 2

    es = elasticsearch_client(settings)
    # in the families the API's own read-only account may read (ES_INDEX*, the live prefix)
    index = f"{settings.index}-bench-frontend-{uuid.uuid4().hex[:8]}"
    live_prefix = f"{settings.live_index_prefix}bench-frontend-{uuid.uuid4().hex[:8]}-"
    port = free_port()
    server = None
    try:
        documents = seed_index(es, index, live_prefix, args.days)
        log.info("seeded %d documents into %s", documents, index)
        gunicorn = Path(sys.executable).parent / "gunicorn"
        # production's configuration (simple_frontend/gunicorn.conf.py), on a free local port
        server = subprocess.Popen(
            [str(gunicorn), "-c", "simple_frontend/gunicorn.conf.py", "--log-level", "warning"],
            cwd=PROJECT_ROOT,
            env=child_environment(
                ES_INDEX=index,
                ES_LIVE_INDEX_PREFIX=live_prefix,
                FRONTEND_HOST="127.0.0.1",
                FRONTEND_PORT=str(port),
                FRONTEND_WORKERS=str(args.workers),
                FRONTEND_THREADS=str(args.worker_threads),
            ),
        )
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/api/health", timeout=60)

        from simple_frontend.params import parse_query

        # The very search the app sends: all three intervals are stored.
        query = parse_query(
            _pairs(TIMELINE_QUERY),
            allowed=frozenset({"from", "to", "interval", "label"}),
            now=utc_now(),
            max_buckets=2000,
            draws_buckets=True,
            stored_intervals=lambda: Interval,
        )
        # The very search the app sends: all three intervals are stored.
        body = msearch_body(query, query.stored_interval, index, live_prefix)
        auth = base64.b64encode(f"{settings.username}:{settings.password.get_secret_value()}".encode()).decode()
        es_url = f"{settings.url.rstrip('/')}/_msearch"

        timeline_url, health_url = f"{base}/api/timeline?{TIMELINE_QUERY}", f"{base}/api/health"
        results = [
            run_wrk("app /api/timeline", timeline_url, args, LUA_DONE, warm_up=args.warmup),
            run_wrk(
                "ES _msearch (same query)",
                es_url,
                args,
                LUA_POST + LUA_DONE,
                env={"BENCH_BODY": body, "BENCH_AUTH": auth},
                warm_up=args.warmup,
            ),
            run_wrk("app /api/health", health_url, args, LUA_DONE, warm_up=args.warmup),
        ]
    finally:
        if server is not None:
            stop(server)
        es.indices.delete(index=index, ignore_unavailable=True)
        drop_live(es, live_prefix)
        es.close()

    report(results, args, documents)
    save_figures(args.json, [{**r.__dict__, "rate": r.rate} for r in results])
    failed = [r.name for r in results if r.errors]
    if failed:
        log.error("requests failed (non-2xx, timeouts or socket errors) in: %s", ", ".join(failed))
        return 1
    return 0


def msearch_body(query, stored: Interval, index: str, live_prefix: str) -> str:
    """The app's searches for `query` as one _msearch body (NDJSON)."""
    from pipeline_common.contracts import live_index
    from simple_frontend import merge, queries

    plan = merge.plan(query, stored, [new_run_id(utc_now())], timedelta(seconds=300))
    lines = []
    if plan.batch is not None:
        lines += [{"index": index}, queries.timeline_body(stored, query, window=plan.batch)]
    if plan.live is not None:
        lines += [
            {"index": live_index.index_pattern(live_prefix), "allow_no_indices": True},
            queries.timeline_body(None, query, target=queries.LIVE, window=plan.live),
        ]
    return "".join(json.dumps(line) + "\n" for line in lines)


def _pairs(query: str) -> dict[str, list[str]]:
    from urllib.parse import parse_qs

    return parse_qs(query, strict_parsing=True)


def report(results: list[Latency], args, documents: int) -> None:
    print(
        f"\n{args.connections} connections, {args.duration} s per run, gunicorn {args.workers} workers x "
        f"{args.worker_threads} threads (gthread), {documents} documents, query: {TIMELINE_QUERY}\n"
        f"load average {os.getloadavg()[0]:.1f} (1 min) on {os.cpu_count()} cores: the machine is shared, "
        "so latency goals read true only when it is quiet"
    )
    print(f"{'target':<26}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for r in results:
        print(f"{r.name:<26}{r.rate:>9.0f}{r.p50_ms:>9.1f}{r.p95_ms:>9.1f}{r.p99_ms:>9.1f}{r.errors:>8}")
    app, direct = results[0], results[1]
    if direct.p50_ms and direct.p95_ms and direct.rate:
        print(
            f"timeline through the app / straight to ES: p50 x{app.p50_ms / direct.p50_ms:.2f}, "
            f"p95 x{app.p95_ms / direct.p95_ms:.2f}, throughput x{app.rate / direct.rate:.2f}"
        )
        print(
            f"goals (issue 13): p95 under 50 ms: {'yes' if app.p95_ms < 50 else 'no'} ({app.p95_ms:.1f} ms); "
            f"at least 3x the throughput of ES: {'yes' if app.rate >= 3 * direct.rate else 'no'}"
        )


if __name__ == "__main__":
    sys.exit(main())
