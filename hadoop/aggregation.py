"""One aggregation run: list the input (the detection archive's hour files, or the
metadata objects), decide what to read (everything, or only what an earlier run did not
count: `archive.py`, `increments.py`), run the job through mrjob, publish `part-*` files,
the run's ledger and state, and then `_SUCCESS` under s3://<bucket>/<output-prefix><run-id>/."""

from __future__ import annotations

import logging
import math
import os
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from mrjob.util import to_lines
from tqdm import tqdm

from pipeline_common.output_runs import SUCCESS_MARKER, is_complete, is_part_key, run_prefix
from pipeline_common.s3 import S3Client, list_keys
from pipeline_common.timestamps import parse_iso, to_iso, utc_now

from . import archive
from .increments import FULL, INCREMENTAL, Plan, RunState, plan_run
from .listing import list_objects
from .manifest import aggregates_line, events_line, write_groups, write_manifests
from .object_counts_job import BAD_RECORDS, MRObjectCounts, images_of_line, is_images_line
from .retention import remove_old_runs
from .run_state import find_base, read_images, read_state, write_state
from .settings import AggregationSettings
from .task_env import TASK_ENV_NAME, write_task_env

log = logging.getLogger(__name__)

# Runners whose tasks may run on other machines: they get pipeline_common as a zip.
CLUSTER_RUNNERS = {"hadoop", "emr", "dataproc"}
# Runners whose tasks run this interpreter (sys.executable).
LOCAL_PYTHON_RUNNERS = {"local", "hadoop"}


class RunExistsError(RuntimeError):
    """The output folder of the run id already holds objects."""


@dataclass(frozen=True)
class RunResult:
    run_id: str
    output_uri: str
    objects_listed: int
    part_keys: tuple[str, ...]
    counters: dict[str, dict[str, int]] = field(default_factory=dict)
    mode: str = FULL
    objects_read: int = 0  # listed objects this run read (all of them, or only the new ones)
    base_run: str | None = None
    reason: str = ""  # why a full recount
    removed_runs: tuple[str, ...] = ()
    listing_s: float = 0.0  # seconds spent listing the input
    source: str = "metadata"  # what was read: metadata objects, or archive files

    @property
    def bad_records(self) -> int:
        return sum(self.counters.get(BAD_RECORDS, {}).values())

    def summary(self) -> dict:
        """What the CLI's --summary-file holds (the scheduler's run records use it)."""
        return {
            "run_id": self.run_id,
            "output_uri": self.output_uri,
            "mode": self.mode,
            "base_run": self.base_run,
            "reason": self.reason,
            "objects_listed": self.objects_listed,
            "objects_read": self.objects_read,
            "bad_records": self.bad_records,
            "part_files": len(self.part_keys),
            "removed_runs": list(self.removed_runs),
            "listing_s": round(self.listing_s, 3),
            "source": self.source,
            "counters": self.counters,
        }


def merge_counters(per_step: list[dict]) -> dict[str, dict[str, int]]:
    merged: dict[str, dict[str, int]] = {}
    for step in per_step:
        for group, counters in step.items():
            for name, value in counters.items():
                merged.setdefault(group, {}).setdefault(name, 0)
                merged[group][name] += value
    return merged


def zip_pipeline_common(directory: Path) -> Path:
    """pipeline_common as a zip for --py-files, so cluster tasks can import it."""
    import pipeline_common

    package = Path(pipeline_common.__file__).resolve().parent
    path = directory / "pipeline_common.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for source in sorted(package.rglob("*.py")):
            archive.write(source, source.relative_to(package.parent).as_posix())
    return path


def job_args(
    settings: AggregationSettings,
    manifests: list[Path],
    task_env: Path,
    output_dir: str | None,
    runner_args: list[str],
    py_files: Path | None = None,
) -> list[str]:
    """The mrjob command line for this run (pure)."""
    args = ["-r", settings.runner]
    extra = list(settings.extra_runner_args)
    if not {"-c", "--conf-path"} & set(extra):
        args.append("--no-conf")  # no hidden ~/.mrjob.conf unless asked for
    args += [
        "--interval",
        settings.interval.value,
        "--input-format",
        "manifest",
        "--fetch-threads",
        str(settings.fetch_threads),
        "--files",
        f"{task_env}#{TASK_ENV_NAME}",
        "--cmdenv",
        f"PIPELINE_DOTENV={TASK_ENV_NAME}",
    ]
    if settings.runner in LOCAL_PYTHON_RUNNERS and sys.version_info < (3, 12):
        # mrjob imports distutils, which setuptools' shim turns into importing setuptools and
        # pkg_resources: about 40% of a task's start (a -r local task is a process per map
        # or reduce task). Python < 3.12 has distutils of its own.
        args += ["--cmdenv", "SETUPTOOLS_USE_DISTUTILS=stdlib"]
    if py_files is not None:
        args += ["--py-files", str(py_files)]
    if output_dir:
        args += ["--output-dir", output_dir]
    return args + runner_args + extra + [str(path) for path in manifests]


def hadoop_runner_args(settings: AggregationSettings, private_dir: Path) -> list[str]:
    """mrjob switches for -r hadoop through `settings.hadoop_home` (s3a configured
    there); tasks run with this interpreter, which has the dependencies.

    Each step's application is named `object-counts <run-id>` (the YARN UI lists it so).
    On a cluster (the home's mapreduce.framework.name is yarn) mrjob stages the job's files
    on HDFS, in the user's tmp/mrjob, and removes them afterwards; in local mode the files
    (the task env file holds the S3 secret) are staged and localized under `private_dir`
    (mode 0700) rather than the install's shared tmp folder."""
    from pipeline_common.hadoop_runner import framework, hadoop_runner_args as switches

    home = Path(settings.hadoop_home)
    named = ["--jobconf", f"mapreduce.job.name=object-counts {settings.run_id}"]
    if framework(home) == "yarn":
        args, local = switches(home, sys.executable), []
    else:
        private_dir.mkdir(mode=0o700)
        args = switches(home, sys.executable, tmp_dir=private_dir.as_uri())
        local = ["--jobconf", f"hadoop.tmp.dir={private_dir}"]
    cut = args.index("-r")
    return args[:cut] + args[cut + 2 :] + named + local  # job_args names the runner already


# An archive run's files are spread over at most this many map tasks (manifest files; with
# -r local, one per core), each of at least archive.MIN_SPLIT_BYTES: a small increment is one
# task (a -r local task costs about a second to start, several on a busy machine).
FILES_SPLITS = 8

# A -r local task costs about a second to start (a Python process importing mrjob);
# below this many objects per core, fewer processes finish sooner.
OBJECTS_PER_LOCAL_CORE = 1_000


def local_runner_args(objects: int) -> list[str]:
    """-r local runs about twice as many tasks as cores in every step: a small input
    gets fewer processes, a large one every core."""
    cores = max(1, min(os.cpu_count() or 1, math.ceil(objects / OBJECTS_PER_LOCAL_CORE)))
    return ["--num-cores", str(cores)]


def _publish(
    runner, s3: S3Client, bucket: str, prefix: str, before_marker=lambda: None, images=None, check=None
) -> list[str]:
    """Copy the runner's part-* files to S3 (part files first, then `before_marker()`,
    the marker last). With `images` (a set), the job's lines of image ids go there, not
    into the parts, and `check(images)` runs before anything is uploaded."""
    sources = sorted(path for path in runner.fs.ls(runner.get_output_dir()) if is_part_key(path.rstrip("/")))
    keys = []
    with tempfile.TemporaryDirectory(prefix="aggregation-publish-") as scratch:
        files = []
        for source in tqdm(sources, desc="fetching the output", unit="file", disable=None):
            name = source.rstrip("/").rsplit("/", 1)[-1]
            local = Path(scratch) / name
            with open(local, "wb") as handle:
                if images is None:
                    for chunk in runner.fs.cat(source):
                        handle.write(chunk)
                else:
                    for line in to_lines(runner.fs.cat(source)):
                        if is_images_line(line):
                            images.update(images_of_line(line))
                        else:
                            handle.write(line)
            files.append((local, name))
        if check is not None:
            check(images)
        for local, name in tqdm(files, desc="publishing", unit="file", disable=None):
            s3.upload_file(str(local), bucket, prefix + name)
            keys.append(prefix + name)
    before_marker()
    s3.put_object(Bucket=bucket, Key=prefix + SUCCESS_MARKER, Body=b"")
    return keys


def plan(settings: AggregationSettings, s3: S3Client, listed: list[tuple[str, str]]) -> Plan:
    if settings.full:
        return plan_run(listed, None, None, "full recount asked for (--full)")
    base = find_base(
        s3, settings.s3.bucket, settings.output_prefix, settings.run_id, settings.interval.value, settings.input_prefix
    )
    return plan_run(listed, base.state, base.counted, base.reason)


def base_parts(s3: S3Client, settings: AggregationSettings, base_run: str) -> list[str]:
    prefix = run_prefix(settings.output_prefix, base_run)
    return sorted(settings.s3.uri(k) for k in list_keys(s3, settings.s3.bucket, prefix) if is_part_key(k))


def base_bad_records(s3: S3Client, settings: AggregationSettings, base_run: str | None) -> int:
    if base_run is None:
        return 0
    state = read_state(s3, settings.s3.bucket, settings.output_prefix, base_run)
    return state.bad_records_total if state is not None else 0


def run_aggregation(settings: AggregationSettings, s3: S3Client, clock=utc_now) -> RunResult:
    bucket = settings.s3.bucket
    prefix = run_prefix(settings.output_prefix, settings.run_id)
    if next(iter(list_keys(s3, bucket, prefix)), None) is not None:
        raise RunExistsError(
            f"s3://{bucket}/{prefix} already holds objects: choose another --run-id or delete that folder"
        )
    if settings.source == "archive":
        return _run_over_archive(settings, s3, clock)
    return _run_over_metadata(settings, s3, clock)


def _run_over_metadata(settings: AggregationSettings, s3: S3Client, clock) -> RunResult:
    bucket = settings.s3.bucket
    listed_at = clock()
    listing_started = time.monotonic()
    listed = list(
        tqdm(
            list_objects(s3, bucket, settings.input_prefix),
            desc=f"listing s3://{bucket}/{settings.input_prefix}",
            unit=" keys",
            disable=None,
        )
    )
    listing_s = time.monotonic() - listing_started
    chosen = plan(settings, s3, listed)
    if chosen.mode == FULL:
        log.info(
            "full recount of %s objects under s3://%s/%s (%s)",
            len(listed),
            bucket,
            settings.input_prefix,
            chosen.reason,
        )
    else:
        log.info(
            "%s new of %s objects under s3://%s/%s, added to run %s",
            len(chosen.to_read),
            len(listed),
            bucket,
            settings.input_prefix,
            chosen.base_run,
        )
    state = _new_state(settings, chosen, listed_at, objects=len(listed))
    with tempfile.TemporaryDirectory(prefix="aggregation-") as scratch:
        scratch_dir = Path(scratch)
        manifests, _ = write_manifests(
            (settings.s3.uri(key) for key in chosen.to_read), scratch_dir / "manifests", settings.keys_per_split
        )
        part_keys, counters = _execute(
            settings,
            s3,
            scratch_dir,
            manifests,
            chosen.base_run,
            len(chosen.to_read),
            state,
            lambda done: write_state(s3, bucket, settings.output_prefix, done, listed),
        )
    return _result(settings, s3, chosen, listed, part_keys, counters, listing_s)


def _run_over_archive(settings: AggregationSettings, s3: S3Client, clock) -> RunResult:
    """Hour files of detection events (hadoop/archive.py says what is read and why)."""
    bucket, prefix = settings.s3.bucket, settings.archive_prefix
    listed_at = clock()
    lateness = timedelta(seconds=settings.archive_lateness_s)
    base_run, counted, since, reason = None, None, None, "full recount asked for (--full)"
    if not settings.full:
        base = find_base(
            s3, bucket, settings.output_prefix, settings.run_id, settings.interval.value, prefix, source="archive"
        )
        if base.state is not None:
            base_run, counted = base.state.run_id, base.counted
            since = archive.window_start(parse_iso(base.state.listed_at), lateness)
        reason = base.reason
    listing_started = time.monotonic()
    sizes: dict[str, int] = {}  # key -> bytes, to share the files out among map tasks
    listed = archive.list_archive(s3, bucket, prefix, since, listed_at, sizes=sizes)
    chosen = archive.plan_files(listed, since, base_run, counted, reason)
    if chosen.mode == FULL and since is not None:  # the window's files were rewritten: all of them, then
        listed = archive.list_archive(s3, bucket, prefix, None, listed_at, sizes=sizes)
        chosen = archive.plan_files(listed, None, None, None, chosen.reason)
    listing_s = time.monotonic() - listing_started
    counted_images = read_images(s3, bucket, settings.output_prefix, base_run) if chosen.mode == INCREMENTAL else set()
    if chosen.mode == FULL:
        log.info("full recount of %s archive file(s) under s3://%s/%s (%s)", len(listed), bucket, prefix, chosen.reason)
    else:
        log.info(
            "%s new archive file(s) of %s listed in the hours since %s, added to run %s",
            len(chosen.to_read),
            len(listed),
            to_iso(since),
            chosen.base_run,
        )
    try:
        part_keys, counters, images = _count_archive_files(
            settings, s3, chosen, listed, sizes, listed_at, counted_images
        )
    except CountedBefore as again:
        # the base's totals hold these images' earlier events: only a recount gives their latest
        why = f"{len(again.images)} image(s) counted by run {chosen.base_run} have newer events (processed again)"
        log.info("%s: recounting everything", why)
        listing_started = time.monotonic()
        listed = archive.list_archive(s3, bucket, prefix, None, listed_at, sizes=sizes)
        listing_s += time.monotonic() - listing_started
        chosen = archive.plan_files(listed, None, None, None, why)
        part_keys, counters, images = _count_archive_files(settings, s3, chosen, listed, sizes, listed_at, set())
    log.info("the job counted %s image(s), each once (its latest event)", len(images))
    return _result(settings, s3, chosen, listed, part_keys, counters, listing_s)


def _new_state(settings: AggregationSettings, chosen: Plan, listed_at: datetime, objects: int) -> RunState:
    """The state of the run `chosen` plans, over its source (settings.source), before the
    job counts its bad records; `objects`: how many the ledger holds."""
    return RunState(
        run_id=settings.run_id,
        mode=chosen.mode,
        interval=settings.interval.value,
        input_prefix=settings.archive_prefix if settings.source == "archive" else settings.input_prefix,
        listed_at=to_iso(listed_at),
        objects=objects,
        objects_read=len(chosen.to_read),
        base_run=chosen.base_run,
        reason=chosen.reason,
        source=settings.source,
    )


class CountedBefore(Exception):
    """Images an incremental run read were counted by its base run already."""

    def __init__(self, images: set[str]):
        super().__init__(f"{len(images)} image(s) counted before")
        self.images = images


def _count_archive_files(
    settings: AggregationSettings,
    s3: S3Client,
    chosen: Plan,
    listed: list[tuple[str, str]],
    sizes: dict[str, int],
    listed_at,
    counted_images: set[str],
) -> tuple[list[str], dict, set[str]]:
    """Run the job over the chosen files (each read once, by the job, which also says
    which images it counted) and publish; CountedBefore (nothing published) when an
    incremental run meets images its base counted."""
    bucket = settings.s3.bucket
    lateness = timedelta(seconds=settings.archive_lateness_s)
    ledger = archive.ledger_entries(listed, archive.window_start(listed_at, lateness))
    state = _new_state(settings, chosen, listed_at, objects=len(ledger))

    def check(images: set[str]) -> None:
        again = images & counted_images
        if again:
            raise CountedBefore(again)

    def write_ledger(done: RunState, images: set[str]) -> None:
        everything = counted_images | images
        done = replace(done, images=len(everything))
        write_state(s3, bucket, settings.output_prefix, done, ledger, archive.encode_images(everything))

    with tempfile.TemporaryDirectory(prefix="aggregation-") as scratch:
        scratch_dir = Path(scratch)
        parts = (os.cpu_count() or 1) if settings.runner in ("local", "inline") else FILES_SPLITS
        groups = archive.splits(chosen.to_read, sizes, parts)
        manifests = write_groups(
            [[events_line(settings.s3.uri(key)) for key in group] for group in groups], scratch_dir / "manifests"
        )
        return _execute(
            settings,
            s3,
            scratch_dir,
            manifests,
            chosen.base_run,
            len(manifests) * OBJECTS_PER_LOCAL_CORE,
            state,
            write_ledger,
            one_per_image=check,
        )


def _execute(
    settings: AggregationSettings,
    s3: S3Client,
    scratch_dir: Path,
    manifests: list[Path],
    base_run: str | None,
    records: int,
    state: RunState,
    write_ledger,
    one_per_image=None,
):
    """Run the job over `manifests` (plus the base run's totals) and publish its parts,
    then `write_ledger(state)` (with the bad records counted), then `_SUCCESS`; the part
    keys and the counters.

    `one_per_image` (runs over the archive): the job counts each image once and says
    which it counted; `one_per_image(images)` sees them before anything is published (it
    may raise), `write_ledger(state, images)` writes them; returns them too."""
    bucket = settings.s3.bucket
    prefix = run_prefix(settings.output_prefix, settings.run_id)
    if base_run is not None:
        parts = base_parts(s3, settings, base_run)
        base_manifest = scratch_dir / "manifests" / "base-totals.txt"
        base_manifest.write_text("".join(aggregates_line(uri) + "\n" for uri in parts), encoding="utf-8")
        manifests = [*manifests, base_manifest]
        log.info("adding to %s part file(s) of run %s", len(parts), base_run)
    task_env = write_task_env(settings.s3, scratch_dir)
    if settings.runner == "hadoop":
        # over the archive the run publishes the job's output itself (it holds the
        # images' ids too), so Hadoop writes it to the runner's own scratch space
        output_dir = None if one_per_image else f"s3a://{bucket}/{prefix}"
        runner_args = hadoop_runner_args(settings, scratch_dir / "hadoop")
    elif settings.runner == "local":
        output_dir, runner_args = None, local_runner_args(records)
    else:
        output_dir, runner_args = None, []  # the runner's own scratch space
    if one_per_image:
        runner_args = [*runner_args, "--one-per-image"]
    py_files = zip_pipeline_common(scratch_dir) if settings.runner in CLUSTER_RUNNERS else None
    args = job_args(settings, manifests, task_env, output_dir, runner_args, py_files)
    job = MRObjectCounts(args=args)
    with job.make_runner() as runner:
        runner.run()
        counters = merge_counters(runner.counters())
        # the run says how many records it skipped, with those the runs it builds on
        # skipped (missing from its totals too): the indexer prunes nothing then
        bad = sum(counters.get(BAD_RECORDS, {}).values())
        state = replace(state, bad_records=bad, bad_records_total=bad + base_bad_records(s3, settings, base_run))
        if output_dir:
            # Hadoop's output committer wrote the parts and _SUCCESS itself; the
            # ledger follows (a run without one is simply never a base)
            if not is_complete(s3, bucket, settings.output_prefix, settings.run_id):
                raise RuntimeError(f"the job finished but s3://{bucket}/{prefix} has no _SUCCESS")
            part_keys = sorted(k for k in list_keys(s3, bucket, prefix) if is_part_key(k))
            write_ledger(state)
        elif one_per_image:
            images: set[str] = set()
            part_keys = _publish(
                runner,
                s3,
                bucket,
                prefix,
                before_marker=lambda: write_ledger(state, images),
                images=images,
                check=one_per_image,
            )
            return part_keys, counters, images
        else:
            part_keys = _publish(runner, s3, bucket, prefix, before_marker=lambda: write_ledger(state))
    return part_keys, counters


def _result(
    settings: AggregationSettings, s3: S3Client, chosen, listed, part_keys, counters, listing_s: float
) -> RunResult:
    bucket = settings.s3.bucket
    removed = remove_old_runs(s3, bucket, settings.output_prefix, settings.keep_runs) if settings.keep_runs else []
    return RunResult(
        run_id=settings.run_id,
        output_uri=f"s3://{bucket}/{run_prefix(settings.output_prefix, settings.run_id)}",
        objects_listed=len(listed),
        part_keys=tuple(part_keys),
        counters=counters,
        mode=chosen.mode,
        objects_read=len(chosen.to_read),
        base_run=chosen.base_run,
        reason=chosen.reason,
        removed_runs=tuple(removed),
        listing_s=listing_s,
        source=settings.source,
    )
