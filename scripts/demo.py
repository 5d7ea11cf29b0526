"""`make demo` (`python -m scripts.demo` from the checkout): the whole pipeline on sample
photos, ending with the dashboard.

Services up -> sample photos -> producer -> consumer (until the topic is drained) ->
live indexer (detection events -> live indices, until drained) -> MapReduce aggregation ->
Elasticsearch indexer -> dashboard on http://127.0.0.1:5001.
Every step is an ordinary run of a stage's own entry point, with the settings in .env,
so re-running the demo announces, counts and indexes nothing twice.
"""
from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from pathlib import Path

from pipeline_common.logs import configure_logging

from .sample_photos import write_samples

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("demo")
PYTHON = sys.executable


class StepFailed(RuntimeError):
    pass


def step(title: str, command: list[str]) -> None:
    log.info("── %s: %s", title, " ".join(command))
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT)
    if result.returncode != 0:
        raise StepFailed(f"{title} failed (exit code {result.returncode}); see the output above")
    log.info("   %s done in %.1f s", title, time.monotonic() - started)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--new-pics", type=Path, default=ROOT / "producer" / "new_pics",
                        help="where the sample photos are written (default: producer/new_pics)")
    parser.add_argument("--variants", type=int, default=4,
                        help="variants of each sample photo per camera (default: 4)")
    parser.add_argument("--no-services", action="store_true",
                        help="use the services named in .env/the environment; start nothing")
    parser.add_argument("--no-serve", action="store_true",
                        help="stop after indexing instead of serving the dashboard")
    parser.add_argument("--port", type=int, default=5001, help="dashboard port (default: 5001)")
    parser.add_argument("--idle-timeout", type=float, default=10.0,
                        help="the consumer stops after this many seconds without messages")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    args = parse_args(argv)
    try:
        if not args.no_services:
            step("local services", [PYTHON, "-m", "local_services", "up"])
        write_samples(args.new_pics, variants_per_photo=args.variants)
        step("producer", [PYTHON, "-m", "producer", "run", "--new-pics", str(args.new_pics), "--no-progress"])
        step("consumer", [PYTHON, "-m", "consumer", "--idle-timeout", str(args.idle_timeout)])
        step("live indexer", [PYTHON, "-m", "es_live", "--idle-timeout", str(args.idle_timeout)])
        step("aggregation", [PYTHON, "-m", "hadoop"])
        step("indexer", [PYTHON, "-m", "es_indexer"])
    except (StepFailed, FileNotFoundError) as error:
        log.error("%s", error)
        return 1
    if args.no_serve:
        log.info("pipeline done; serve the dashboard with: .venv/bin/count-dashboard")
        return 0
    log.info("dashboard: http://127.0.0.1:%d  (Ctrl-C stops it; `make down` stops the services)",
             args.port)
    try:
        return subprocess.run([PYTHON, "-m", "simple_frontend", "--port", str(args.port)],
                              cwd=ROOT).returncode
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
