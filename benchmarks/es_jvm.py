"""The local Elasticsearch's JVM options, measured: start time against query speed.

For each option set, starts the local Elasticsearch distribution (the one `make up`
unpacked) as a throw-away single node on free 127.0.0.1 ports (its own data folder,
security off: nothing but this benchmark talks to it), times it from launch until it
answers, seeds a week of synthetic counts (the API benchmark's), then times the dashboard's
timeline query (the same `_msearch` the app sends): one client in a row, after a warm-up,
and 8 clients at once for a few seconds. Prints each set's figures and the ratios to the
first set (today's options), all measured in the same run.

    python -m benchmarks.es_jvm --help
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from benchmarks.common import argument_parser, save_figures

log = logging.getLogger("benchmarks.es_jvm")

COMMON = "-Xms512m -Xmx512m -Xlog:disable -Xlog:all=warning:stderr -XX:-AlwaysPreTouch"
OPTION_SETS = {
    "C1 only (TieredStopAtLevel=1, today)": "-XX:TieredStopAtLevel=1",
    "tiered C1+C2 (the JVM's default)": "",
}
SERVICE_USER = "pipeline-es"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def es_home() -> Path:
    from pipeline_common.environment import PROJECT_ROOT

    for candidate in (PROJECT_ROOT / ".local" / "opt", Path.home() / ".cache" / "image-pipeline"):
        found = sorted(candidate.glob("elasticsearch-8*/bin/elasticsearch"))
        if found:
            return found[-1].parent.parent
    raise SystemExit("no local Elasticsearch distribution: run `make up` once (it unpacks it)")


class Node:
    """One throw-away node: started, timed until it answers, stopped and removed."""

    def __init__(self, home: Path, options: str) -> None:
        from local_services.java import java_home

        self.home, self.options = home, options
        self.dir = Path(tempfile.mkdtemp(prefix="es-jvm-bench-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = self.dir / "config"
        shutil.copytree(home / "config", config)
        (config / "elasticsearch.yml").write_text(
            "\n".join(
                [
                    "cluster.name: es-jvm-bench",
                    "node.name: bench-1",
                    f"path.data: {self.dir / 'data'}",
                    f"path.logs: {self.dir / 'logs'}",
                    "network.host: 127.0.0.1",
                    f"http.port: {self.port}",
                    f"transport.port: {free_port()}",
                    "discovery.type: single-node",
                    "xpack.security.enabled: false",
                    "xpack.ml.enabled: false",
                    "cluster.routing.allocation.disk.threshold_enabled: false",
                    "",
                ]
            )
        )
        self.user = pwd.getpwnam(SERVICE_USER) if os.geteuid() == 0 else None
        if self.user is not None:
            os.chmod(self.dir, 0o755)
            for path in [self.dir, *self.dir.rglob("*")]:
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
        self.env = {
            **os.environ,
            "ES_JAVA_HOME": str(java_home(os.environ)),
            "ES_PATH_CONF": str(config),
            "ES_JAVA_OPTS": f"{COMMON} {options}".strip(),
        }
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 300) -> float:
        """Seconds from launch until the node answers GET /."""
        kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []} if self.user else {}
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [str(self.home / "bin" / "elasticsearch")],
            env=self.env,
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            **kwargs,
        )
        while time.perf_counter() - started < timeout:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(f"Elasticsearch ({self.options or 'defaults'}) exited with {code}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as answer:
                    if answer.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"Elasticsearch did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
        shutil.rmtree(self.dir, ignore_errors=True)


def measure(node: Node, days: int, queries: int, seconds: float) -> dict:
    from elasticsearch import Elasticsearch

    from benchmarks.api_latency import msearch_body, seed_index
    from pipeline_common.contracts import Interval
    from pipeline_common.timestamps import utc_now
    from simple_frontend.params import parse_query

    es = Elasticsearch(node.url, request_timeout=60)
    index, live_prefix = "bench-counts", "bench-live-"
    seed_index(es, index, live_prefix, days)
    query = parse_query(
        {"from": ["now-7d"], "to": ["now"], "interval": ["hour"], "label": ["person", "car", "dog"]},
        allowed=frozenset({"from", "to", "interval", "label"}),
        now=utc_now(),
        max_buckets=2000,
        draws_buckets=True,
        stored_intervals=lambda: Interval,
    )
    body = msearch_body(query, query.stored_interval, index, live_prefix).encode()

    def ask() -> float:
        request = urllib.request.Request(
            f"{node.url}/_msearch", data=body, method="POST", headers={"Content-Type": "application/x-ndjson"}
        )
        began = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as answer:
            json.loads(answer.read())
        return time.perf_counter() - began

    for _ in range(max(20, queries // 5)):  # warm-up: what the JIT compiles first
        ask()
    single = sorted(ask() for _ in range(queries))
    done, stop_at = [0], time.perf_counter() + seconds

    def client() -> None:
        while time.perf_counter() < stop_at:
            ask()
            done[0] += 1

    threads = [threading.Thread(target=client) for _ in range(8)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    es.close()
    return {
        "p50_ms": statistics.median(single) * 1000,
        "p95_ms": single[int(len(single) * 0.95) - 1] * 1000,
        "rate": done[0] / (time.perf_counter() - began),
    }


def main(argv: list[str] | None = None) -> int:
    from pipeline_common.logs import configure_logging

    parser = argument_parser(__doc__, "es_jvm")
    parser.add_argument("--days", type=int, default=7, help="days of synthetic counts (default 7)")
    parser.add_argument("--queries", type=int, default=300, help="timed queries in a row per set (default 300)")
    parser.add_argument("--seconds", type=float, default=10, help="seconds of 8 concurrent clients (default 10)")
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    home = es_home()
    rows = []
    for name, options in OPTION_SETS.items():
        node = Node(home, options)
        try:
            log.info("%s: starting %s", name, node.url)
            start_s = node.start()
            figures = measure(node, args.days, args.queries, args.seconds)
        finally:
            node.stop()
        rows.append({"options": name, "start_s": start_s, **figures})
        log.info("%s: %s", name, rows[-1])
    base = rows[0]
    print(f"\nElasticsearch {home.name}, heap 512 MB, the dashboard's timeline _msearch (a week hourly, 3 labels)")
    print(
        f"{'JVM options':<40}{'start s':>9}{'p50 ms':>9}{'p95 ms':>9}{'req/s (8)':>11}"
        f"{'start x':>9}{'p50 x':>8}{'req/s x':>9}"
    )
    for row in rows:
        print(
            f"{row['options']:<40}{row['start_s']:>9.1f}{row['p50_ms']:>9.1f}{row['p95_ms']:>9.1f}"
            f"{row['rate']:>11.0f}{row['start_s'] / base['start_s']:>9.2f}{row['p50_ms'] / base['p50_ms']:>8.2f}"
            f"{row['rate'] / base['rate']:>9.2f}"
        )
    save_figures(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
