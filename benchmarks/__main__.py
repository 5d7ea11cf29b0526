"""Run every benchmark in turn (`make bench`), each against the real local services.

    python -m benchmarks                      # all, with their defaults
    python -m benchmarks --only consumer api  # some of them

Figures are printed by each benchmark and kept as JSON in benchmarks/results/.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = {  # name -> module in this package
    "quality": "detection_quality",
    "consumer": "consumer_throughput",
    "aggregation": "aggregation_throughput",
    "aggregation-cost": "aggregation_cost",
    "indexer": "indexer_throughput",
    "api": "api_latency",
    "es-jvm": "es_jvm",
    "thumbnails": "thumbnail_latency",
    "edge": "edge_latency",
    "freshness": "freshness",
    "alerts": "alert_latency",
    "hadoop-cluster": "hadoop_cluster",
    "contracts": "contract_parsing",
    "detector-options": "detector_options",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--only",
        nargs="+",
        choices=sorted(BENCHMARKS),
        metavar="NAME",
        help=f"run only these ({', '.join(BENCHMARKS)})",
    )
    args = parser.parse_args(argv)
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "local_services", "up"], check=True)
    failed = []
    for name in args.only or BENCHMARKS:
        print(f"\n=== {name} " + "=" * 60, flush=True)
        # as modules of this package, so one benchmark may reuse another's helpers
        command = [sys.executable, "-m", f"benchmarks.{BENCHMARKS[name]}", "--json", str(results / f"{name}.json")]
        if subprocess.run(command, cwd=HERE.parent).returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nbenchmarks that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"\nfigures saved under {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
