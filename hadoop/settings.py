"""The aggregation stage's settings: built once in `main` from the environment and
the command line (the command line wins)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from pipeline_common.contracts import METADATA_PREFIX, OUTPUT_PREFIX, Interval
from pipeline_common.contracts.detection_archive import ARCHIVE_PREFIX
from pipeline_common.environment import Settings
from pipeline_common.local_state import LocalDir, default_local_dir
from pipeline_common.output_runs import new_run_id
from pipeline_common.settings import ArchivePrefix, OutputPrefix, Prefix, RunId, S3Settings
from pipeline_common.timestamps import utc_now

RUNNERS = ("inline", "local", "hadoop", "emr", "dataproc")
SOURCES = ("archive", "metadata")


def _keep_all_or_two(runs: int) -> int:
    if runs != 0 and runs < 2:
        raise ValueError("must be 0 (keep all) or at least 2")
    return runs


class AggregationSettings(Settings):
    s3: S3Settings
    # command line only: a fresh run id (UTC now) for every run
    run_id: RunId = Field(default_factory=lambda: new_run_id(utc_now()))
    runner: Literal[RUNNERS] = Field(  # type: ignore[valid-type]
        "local",
        alias="AGGREGATION_RUNNER",
        description="mrjob runner: inline, local (default), hadoop (the local Hadoop of `make up`), emr, dataproc.",
    )
    interval: Interval = Field(
        Interval.HOUR, alias="AGGREGATION_INTERVAL", description="Bucket length: minute, hour or day."
    )
    source: Literal[SOURCES] = Field(  # type: ignore[valid-type]
        "archive",
        alias="AGGREGATION_SOURCE",
        description="What a run reads: archive (default; the detection events in hour files, which the archiver "
        "writes: a run reads only the hours that are new) or metadata (one object per image, the source of "
        "truth; every run lists them all).",
    )
    input_prefix: Prefix = Field(
        METADATA_PREFIX,
        alias="AGGREGATION_INPUT_PREFIX",
        description="Folder in the bucket holding the metadata records read (AGGREGATION_SOURCE=metadata).",
    )
    archive_prefix: ArchivePrefix = ARCHIVE_PREFIX
    archive_lateness_s: float = Field(
        7200.0,
        alias="AGGREGATION_ARCHIVE_LATENESS_S",
        ge=0,
        le=30 * 86400,
        description="An incremental run over the archive lists the hours from this long before the previous run "
        "on: archive files written later into older hours (an archiver that was down longer) wait for the next "
        "full recount.",
    )
    output_prefix: OutputPrefix = OUTPUT_PREFIX
    keys_per_split: int = Field(
        10_000,
        alias="AGGREGATION_KEYS_PER_SPLIT",
        ge=1,
        description="Metadata objects per map-task input file (one Hadoop map task each).",
    )
    fetch_threads: int = Field(16, alias="AGGREGATION_FETCH_THREADS", ge=1, description="GETs in flight per map task.")
    local_dir: LocalDir = Field(default_factory=default_local_dir)
    hadoop_home: Path = Field(
        default_factory=lambda values: values.get("local_dir", default_local_dir()) / "hadoop",
        alias="HADOOP_HOME",
        description="-r hadoop: the Hadoop install; default: the one `make up` puts in <PIPELINE_LOCAL_DIR>/hadoop.",
    )
    keep_runs: Annotated[int, AfterValidator(_keep_all_or_two)] = Field(
        10,
        alias="AGGREGATION_KEEP_RUNS",
        description="Complete runs kept in the output folder; older ones are removed (0: keep all; else at least 2, "
        "the newest and the one the next incremental run adds to).",
    )
    # command line only: recount everything instead of adding the new objects to a run's totals
    full: bool = False
    # command line only: passed to mrjob as is
    extra_runner_args: tuple[str, ...] = ()
