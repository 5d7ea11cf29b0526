"""`make demo` (`python -m scripts.demo` from the checkout): the whole pipeline on sample
photos, kept running.

Services up -> sample photos in new_pics/ -> the processes of the Procfile, run by honcho:
the producer watching new_pics/, the consumer, the live indexer, the detection archiver,
the batch scheduler and the dashboard on http://127.0.0.1:5001. A photo dropped into producer/new_pics/<camera>/
shows on the dashboard within seconds. Ctrl-C stops every process it started
(the services keep running: `make down` stops them).

--no-serve runs each stage once instead (producer, consumer, live indexer and archiver
until the topics are drained, aggregation, indexer) and exits.
Every step is an ordinary run of a stage's own entry point, with the settings in .env,
so re-running the demo announces, counts and indexes nothing twice.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Mapping

from pipeline_common.environment import child_environment
from pipeline_common.logs import configure_logging

from .sample_photos import write_samples

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("demo")
PYTHON = sys.executable
PROCFILE = ROOT / "Procfile"
# honcho, with more time between SIGTERM and SIGKILL than its 5 s: the scheduler stops a
# batch step it runs (SIGTERM, then SIGKILL after 30 s) before it exits itself.
HONCHO = "import sys, honcho.manager, honcho.command; honcho.manager.KILL_WAIT = 40; sys.exit(honcho.command.main())"


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
    parser.add_argument(
        "--new-pics",
        type=Path,
        default=ROOT / "producer" / "new_pics",
        help="where the sample photos are written (default: producer/new_pics)",
    )
    parser.add_argument("--variants", type=int, default=4, help="variants of each sample photo per camera (default: 4)")
    parser.add_argument(
        "--no-samples", action="store_true", help="write no sample photos: process what is (or lands) in --new-pics"
    )
    parser.add_argument(
        "--no-services", action="store_true", help="use the services named in .env/the environment; start nothing"
    )
    parser.add_argument(
        "--no-serve",
        action="store_true",
        help="run each stage once, until its input is drained, and exit instead of keeping the pipeline running",
    )
    parser.add_argument("--port", type=int, default=5001, help="dashboard port (default: 5001)")
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=10.0,
        help="with --no-serve: the consumer and live indexer stop after this many seconds without messages",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    args = parse_args(argv)
    try:
        if not args.no_services:
            step("local services", [PYTHON, "-m", "local_services", "up"])
        if args.no_serve:
            run_once(args)
    except (StepFailed, FileNotFoundError) as error:
        log.error("%s", error)
        return 1
    if args.no_serve:
        log.info("pipeline done; serve the dashboard with: .venv/bin/count-dashboard")
        return 0
    return keep_running(args)


def run_once(args: argparse.Namespace) -> None:
    if not args.no_samples:
        write_samples(args.new_pics, variants_per_photo=args.variants)
    step("producer", [PYTHON, "-m", "producer", "run", "--new-pics", str(args.new_pics), "--no-progress"])
    step("consumer", [PYTHON, "-m", "consumer", "--idle-timeout", str(args.idle_timeout)])
    step("live indexer", [PYTHON, "-m", "es_live", "--idle-timeout", str(args.idle_timeout)])
    step("archiver", [PYTHON, "-m", "archiver", "--idle-timeout", str(args.idle_timeout)])
    step("aggregation", [PYTHON, "-m", "hadoop"])
    step("indexer", [PYTHON, "-m", "es_indexer"])


def procfile_environment(args: argparse.Namespace) -> dict[str, str]:
    """The demo's options for the Procfile's processes, which find their commands in the venv."""
    bin_dir = str(Path(PYTHON).parent)
    return child_environment(
        PATH=os.pathsep.join([bin_dir, child_environment().get("PATH", "")]),
        PRODUCER_NEW_PICS_DIR=str(args.new_pics.resolve()),
        FRONTEND_PORT=str(args.port),
        PYTHONUNBUFFERED="1",  # honcho prints each line as it comes
    )


def start_watching(new_pics: Path, port: int, env: Mapping[str, str], output: IO[bytes]) -> subprocess.Popen:
    """This demo, as a child process, on services already running and without the sample
    photos: the producer watches `new_pics`, the dashboard serves on `port`, and the output
    goes to `output`. It runs in a session of its own, so a signal to its process group
    reaches every process it starts, as Ctrl-C in a shell does. For the tests and
    benchmarks that drop photos into a running pipeline."""
    return subprocess.Popen(
        [
            PYTHON,
            "-m",
            "scripts.demo",
            "--no-services",
            "--no-samples",
            "--new-pics",
            str(new_pics),
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=dict(env),
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def keep_running(args: argparse.Namespace) -> int:
    """honcho starts each Procfile process in its own process group and, on Ctrl-C or
    SIGTERM, sends SIGTERM to every group (SIGKILL to what is left after 40 s)."""
    if not args.no_samples:
        write_samples(args.new_pics, variants_per_photo=args.variants)
    args.new_pics.mkdir(parents=True, exist_ok=True)
    log.info(
        "starting %s: dashboard on http://127.0.0.1:%d; drop photos into %s/<camera>/ "
        "(Ctrl-C stops them all; `make down` stops the services)",
        PROCFILE.name,
        args.port,
        args.new_pics,
    )
    honcho = subprocess.Popen(
        [PYTHON, "-c", HONCHO, "--procfile", str(PROCFILE), "--app-root", str(ROOT), "--env", os.devnull, "start"],
        cwd=ROOT,
        env=procfile_environment(args),
    )
    # Ctrl-C reaches honcho too (same terminal process group); a signal sent to the demo
    # alone is passed on (honcho stops everything once, however often it is told). Either
    # way the demo waits until honcho has stopped everything. SIGINT gets a handler of its
    # own because Python installs none when the demo starts with SIGINT ignored, as a
    # background job of a non-interactive shell does.
    stopping = []

    def pass_on(signum, _frame) -> None:
        stopping.append(signum)
        honcho.send_signal(signum)

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGINT, pass_on)
    code = honcho.wait()
    if stopping:
        log.info("every process stopped")
        return 0
    # honcho stops everything as soon as one process ends on its own: that one's output says why
    log.error("a process ended, so honcho stopped the others (exit code %d); see the output above", code)
    return code or 1


if __name__ == "__main__":
    sys.exit(main())
