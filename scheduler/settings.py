"""The scheduler's settings: built once in `main` from the environment and the command
line (the command line wins)."""

from __future__ import annotations

import shlex
import sys
from typing import Annotated

from pydantic import BeforeValidator, Field, model_validator
from pydantic_settings import NoDecode

from pipeline_common.alerts import AlertSettings
from pipeline_common.environment import EMPTY_IS_A_VALUE, Settings, SettingsError
from pipeline_common.metrics import MetricsPort, MetricsSettings
from pipeline_common.settings import SchedulerElasticsearchSettings, SchedulerLockIndex

from .timing import CronError, cron_trigger

# The stages' own commands (`count-aggregation`, `count-indexer`), run with this interpreter
# so no PATH is needed; the stages never import each other.
DEFAULT_AGGREGATION_COMMAND = (sys.executable, "-m", "hadoop")
DEFAULT_INDEXER_COMMAND = (sys.executable, "-m", "es_indexer")
DEFAULT_COMPACT_COMMAND = (sys.executable, "-m", "archiver", "compact", "--no-progress")


def _words(value):
    return tuple(shlex.split(value)) if isinstance(value, str) else value


# Shell-style words ("count-aggregation -r 'local'"), not JSON as pydantic-settings would read a tuple.
Command = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_words), Field(min_length=1)]


class SchedulerMetrics(MetricsSettings):
    port: MetricsPort = Field(
        9103,
        alias="SCHEDULER_METRICS_PORT",
        description="The scheduler's Prometheus /metrics port (`run` only); 0: none.",
    )


class SchedulerSettings(Settings):
    es: SchedulerElasticsearchSettings  # its own account; its runs_index (ES_RUNS_INDEX) holds the run records
    metrics: SchedulerMetrics = Field(default_factory=SchedulerMetrics)
    alerts: AlertSettings = Field(default_factory=AlertSettings)  # ALERT_WEBHOOK_URL, shared with the live indexer
    cron: str = Field(
        "*/15 * * * *",
        alias="SCHEDULER_CRON",
        json_schema_extra=EMPTY_IS_A_VALUE,
        description="Incremental aggregation + indexer: crontab's five fields, or six with seconds first.",
    )
    full_cron: str = Field(
        "30 2 * * *",
        alias="SCHEDULER_FULL_CRON",
        json_schema_extra=EMPTY_IS_A_VALUE,
        description="Nightly full recount + indexer; empty: none.",
    )
    timezone: str = Field("UTC", alias="SCHEDULER_TIMEZONE", description="Time zone of the cron expressions.")
    misfire_grace_s: int = Field(
        600,
        alias="SCHEDULER_MISFIRE_GRACE_S",
        ge=1,
        description="A fire this many seconds late (process busy or suspended) still runs, once.",
    )
    lock_index: SchedulerLockIndex = "pipeline-batch-locks"
    lock_name: str = "batch"
    lease_s: int = Field(
        120, alias="SCHEDULER_LEASE_S", ge=4, description="The lock's lease in seconds, renewed every quarter of it."
    )
    lock_wait_s: int = Field(
        600,
        alias="SCHEDULER_LOCK_WAIT_S",
        ge=0,
        description="How long a run waits for the lock before it is recorded as skipped.",
    )
    step_timeout_s: int = Field(
        4 * 3600,
        alias="SCHEDULER_STEP_TIMEOUT_S",
        ge=1,
        description="An aggregation or indexer step running longer is stopped and the run fails.",
    )
    aggregation_command: Command = Field(
        DEFAULT_AGGREGATION_COMMAND,
        alias="SCHEDULER_AGGREGATION_COMMAND",
        description="The aggregation's command (shell-style words), e.g. count-aggregation; default: this Python "
        "with -m hadoop. It gets --run-id and --summary-file appended.",
    )
    indexer_command: Command = Field(
        DEFAULT_INDEXER_COMMAND,
        alias="SCHEDULER_INDEXER_COMMAND",
        description="The indexer's command (shell-style words), e.g. count-indexer; default: this Python with "
        "-m es_indexer. It gets --run-id and --summary-file appended.",
    )

    compact_command: Command = Field(
        DEFAULT_COMPACT_COMMAND,
        alias="SCHEDULER_COMPACT_COMMAND",
        description="Run before each full recount: merges each closed hour of the detection archive into one file "
        "(shell-style words), e.g. detection-archiver compact; default: this Python with -m archiver compact. It "
        "gets --summary-file appended; when it fails the recount still runs.",
    )

    @model_validator(mode="after")
    def _schedules_parse(self) -> SchedulerSettings:
        problems = []
        if not self.cron:
            problems.append("SCHEDULER_CRON is empty: give the incremental runs a schedule")
        for variable, expression in (("SCHEDULER_CRON", self.cron), ("SCHEDULER_FULL_CRON", self.full_cron)):
            if expression:
                try:
                    cron_trigger(expression, self.timezone)
                except CronError as error:
                    problems.append(f"{variable}: {error}")
        if problems:
            raise SettingsError(*problems)
        return self
