"""The aggregation stage's settings: built once in `main` from the environment and
the command line (the command line wins)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from pipeline_common.contracts import METADATA_PREFIX, OUTPUT_PREFIX, ContractError, Interval
from pipeline_common.environment import SettingsError, number
from pipeline_common.local_state import local_state_dir
from pipeline_common.output_runs import check_prefix, check_run_id, new_run_id
from pipeline_common.settings import S3Settings
from pipeline_common.timestamps import utc_now

RUNNERS = ("inline", "local", "hadoop", "emr", "dataproc")


@dataclass(frozen=True)
class AggregationSettings:
    s3: S3Settings
    run_id: str
    runner: str = "local"
    interval: Interval = Interval.HOUR
    input_prefix: str = METADATA_PREFIX
    output_prefix: str = OUTPUT_PREFIX
    keys_per_split: int = 10_000  # manifest lines per input file: one map task each on Hadoop
    fetch_threads: int = 16  # concurrent GETs per map task
    hadoop_home: str = ""  # -r hadoop: the Hadoop install
    extra_runner_args: tuple[str, ...] = field(default=())  # passed to mrjob as is
    full: bool = False  # recount everything instead of adding the new objects to a run's totals
    keep_runs: int = 10  # complete runs kept; older ones are removed (0: keep all)

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides) -> "AggregationSettings":
        """`overrides` are command-line values; None means "not given"."""
        given = {k: v for k, v in overrides.items() if v is not None}

        def pick(name: str, variable: str, default):
            return given.get(name, env.get(variable, "").strip() or default)

        runner = pick("runner", "AGGREGATION_RUNNER", "local")
        if runner not in RUNNERS:
            raise SettingsError(f"runner must be one of {', '.join(RUNNERS)}, got {runner!r}")
        try:
            interval = Interval.parse(pick("interval", "AGGREGATION_INTERVAL", "hour"))
            input_prefix = check_prefix(pick("input_prefix", "AGGREGATION_INPUT_PREFIX", METADATA_PREFIX))
            output_prefix = check_prefix(pick("output_prefix", "AGGREGATION_OUTPUT_PREFIX", OUTPUT_PREFIX))
            run_id = check_run_id(given.get("run_id") or new_run_id(utc_now()))
        except ContractError as error:
            raise SettingsError(str(error)) from None
        # `in`, not `or`: a 0 given on the command line is refused below, not replaced
        keys_per_split = given["keys_per_split"] if "keys_per_split" in given else number(
            env, "AGGREGATION_KEYS_PER_SPLIT", 10_000, int
        )
        fetch_threads = given["fetch_threads"] if "fetch_threads" in given else number(
            env, "AGGREGATION_FETCH_THREADS", 16, int
        )
        if keys_per_split < 1 or fetch_threads < 1:
            raise SettingsError("keys per split and fetch threads must be at least 1")
        keep_runs = given["keep_runs"] if "keep_runs" in given else number(env, "AGGREGATION_KEEP_RUNS", 10, int)
        if keep_runs != 0 and keep_runs < 2:
            raise SettingsError(f"AGGREGATION_KEEP_RUNS must be 0 (keep all) or at least 2, got {keep_runs}")
        return cls(
            s3=S3Settings.from_env(env),
            run_id=run_id,
            runner=runner,
            interval=interval,
            input_prefix=input_prefix,
            output_prefix=output_prefix,
            keys_per_split=keys_per_split,
            fetch_threads=fetch_threads,
            hadoop_home=pick("hadoop_home", "HADOOP_HOME", str(_local_hadoop_home(env))),
            extra_runner_args=tuple(given.get("extra_runner_args", ())),
            full=bool(given.get("full", False)),
            keep_runs=keep_runs,
        )


def _local_hadoop_home(env: Mapping[str, str]) -> Path:
    """Where `make up` installs the local Hadoop: <PIPELINE_LOCAL_DIR>/hadoop."""
    return local_state_dir(env) / "hadoop"
