"""The local Hadoop cluster (HDFS + YARN): start-up, memory per daemon, and the aggregation
on YARN against Hadoop's local mode (LocalJobRunner, one JVM), in one run.

  1. cold start: `local_services down hadoop-cluster --wipe` then `up hadoop-cluster`
     (formats HDFS; the jars are already cached, nothing is downloaded);
  2. warm start: `down hadoop-cluster` then `up hadoop-cluster` (the data is kept);
  3. memory: each daemon's resident set after the start and its peak (VmHWM) at the end;
  4. for each size N: the aggregation with `-r hadoop` in local mode (the baseline: the
     `<local dir>/hadoop` install) and on YARN (`<local dir>/hadoop-cluster`), over the same
     N synthetic records (uploaded once, shared with aggregation_throughput.py). Both runs must
     find the same detections.

    python -m benchmarks.hadoop_cluster --sizes 10000 100000
    python -m benchmarks.hadoop_cluster --sizes 10000 --no-start   # reuse the running cluster
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.aggregation_throughput import delete_prefix, ensure_dataset, output_detections
from benchmarks.common import argument_parser, configured, save_figures
from hadoop.aggregation import run_aggregation
from hadoop.settings import AggregationSettings
from local_services import hadoop_cluster, process, stack
from local_services.settings import LocalSettings
from pipeline_common.clients import s3_client
from pipeline_common.environment import PROJECT_ROOT
from pipeline_common.logs import configure_logging
from pipeline_common.output_runs import new_run_id
from pipeline_common.timestamps import utc_now

log = logging.getLogger("benchmarks.hadoop_cluster")


def local_services(*args: str) -> float:
    """Run `python -m local_services ARGS`; its wall time in seconds."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "local_services", *args], check=True, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def memory(settings: LocalSettings) -> dict[str, dict[str, float | None]]:
    """{daemon: {"rss_mb", "peak_mb", "heap_max_mb"}} of the running cluster."""
    found = {}
    for daemon in stack.services(settings, [stack.CLUSTER]):
        pid = daemon.pid()
        found[daemon.name] = {
            "rss_mb": process.rss_mb(pid) if pid else None,
            "peak_mb": process.rss_mb(pid, "VmHWM") if pid else None,
            "heap_max_mb": hadoop_cluster.DAEMON_HEAP_MB[daemon.name],
        }
    return found


@dataclass
class Run:
    size: int
    local_mode_s: float
    yarn_s: float

    @property
    def ratio(self) -> float:
        return self.yarn_s / self.local_mode_s


def timed_aggregation(env, home: Path, prefix: str) -> tuple[float, int]:
    """(seconds, detections found) of one aggregation run through the Hadoop at `home`."""
    aggregation = AggregationSettings.from_env(
        env,
        runner="hadoop",
        hadoop_home=str(home),
        source="metadata",
        input_prefix=f"{prefix}metadata/",
        output_prefix=f"{prefix}hadoop-out/",
        run_id=new_run_id(utc_now()),
        full=True,
    )
    s3 = s3_client(aggregation.s3)
    started = time.perf_counter()
    result = run_aggregation(aggregation, s3)
    seconds = time.perf_counter() - started
    detections = output_detections(s3, aggregation.s3.bucket, f"{prefix}hadoop-out/{result.run_id}/")
    delete_prefix(s3, aggregation.s3.bucket, f"{prefix}hadoop-out/")
    log.info("%s: %.1f s, %s detections", home.name, seconds, detections)
    return seconds, detections


def measure_size(env, settings: LocalSettings, size: int, args) -> Run:
    prefix = f"{args.prefix}aggregation-{size}/"
    aggregation = AggregationSettings.from_env(env)
    s3 = s3_client(aggregation.s3, max_pool_connections=32)
    ensure_dataset(s3, aggregation.s3.bucket, prefix, size, threads=32)
    local_s, local_detections = timed_aggregation(env, stack.hadoop_home(settings), prefix)
    yarn_s, yarn_detections = timed_aggregation(env, hadoop_cluster.cluster_home(settings), prefix)
    if local_detections != yarn_detections:
        raise RuntimeError(f"{size} records: local mode found {local_detections} detections, YARN {yarn_detections}")
    return Run(size, local_s, yarn_s)


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__, "hadoop_cluster")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000], help="record counts (default: 10000)")
    parser.add_argument("--no-start", action="store_true", help="skip the cold and warm start (reuse the cluster)")
    parser.add_argument("--prefix", default="bench/", help="bucket folder for the data (default: bench/)")
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    env, settings = configured(LocalSettings)
    local_services("up", "s3", "hadoop")  # the S3 server and the local-mode install
    starts = {}
    if not args.no_start:
        local_services("down", "--wipe", stack.CLUSTER)
        starts["cold_s"] = local_services("up", stack.CLUSTER)
        local_services("down", stack.CLUSTER)
        starts["warm_s"] = local_services("up", stack.CLUSTER)
    else:
        local_services("up", stack.CLUSTER)
    started_memory = memory(settings)
    runs = [measure_size(env, settings, size, args) for size in args.sizes]
    final_memory = memory(settings)

    if starts:
        print(
            f"\ncluster start (4 daemons, ready): cold {starts['cold_s']:.1f} s (formats HDFS), "
            f"warm {starts['warm_s']:.1f} s"
        )
    print(f"\n{'daemon':<22}{'heap max':>9}{'RSS start':>11}{'RSS end':>9}{'peak':>7}  (MB)")
    for name, figures in final_memory.items():
        print(
            f"{name:<22}{figures['heap_max_mb']:>9}{started_memory[name]['rss_mb'] or 0:>11.0f}"
            f"{figures['rss_mb'] or 0:>9.0f}{figures['peak_mb'] or 0:>7.0f}"
        )
    print(f"\n{'records':>8} {'local mode s':>13} {'YARN s':>8} {'YARN/local':>11}")
    for run in runs:
        print(f"{run.size:>8} {run.local_mode_s:>13.1f} {run.yarn_s:>8.1f} {run.ratio:>11.2f}")
    save_figures(
        args.json,
        {
            "start": starts,
            "memory_at_start": started_memory,
            "memory_at_end": final_memory,
            "aggregation": [{**asdict(run), "yarn_over_local_mode": run.ratio} for run in runs],
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
