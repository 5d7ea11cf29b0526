"""The scheduler's settings: built once in `main` from the environment."""
from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from typing import Mapping

from pipeline_common.environment import SettingsError, number
from pipeline_common.metrics import MetricsSettings
from pipeline_common.settings import ElasticsearchSettings

from .timing import CronError, cron_trigger

# The stages' own commands (`count-aggregation`, `count-indexer`), run with this interpreter
# so no PATH is needed; the stages never import each other.
DEFAULT_AGGREGATION_COMMAND = (sys.executable, "-m", "hadoop")
DEFAULT_INDEXER_COMMAND = (sys.executable, "-m", "es_indexer")


@dataclass(frozen=True)
class SchedulerSettings:
    es: ElasticsearchSettings
    cron: str = "*/15 * * * *"  # incremental runs
    full_cron: str = "30 2 * * *"  # nightly full recount ("" disables it)
    timezone: str = "UTC"  # of the cron expressions
    misfire_grace_s: int = 600  # a fire this late (process suspended, busy) still runs, once
    lock_index: str = "pipeline-batch-locks"
    lock_name: str = "batch"
    lease_s: int = 120  # the lock's lease, renewed every quarter of it
    lock_wait_s: int = 600  # how long a run waits for the lock before it is recorded as skipped
    step_timeout_s: int = 4 * 3600  # an aggregation or indexer step running longer is stopped
    aggregation_command: tuple[str, ...] = DEFAULT_AGGREGATION_COMMAND
    indexer_command: tuple[str, ...] = DEFAULT_INDEXER_COMMAND
    metrics: MetricsSettings = MetricsSettings(port=0)

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides) -> "SchedulerSettings":
        given = {k: v for k, v in overrides.items() if v is not None}

        def text(name: str, variable: str, default: str) -> str:
            value = given.get(name, env.get(variable))
            return default if value is None else value.strip()

        def command(variable: str, default: tuple[str, ...]) -> tuple[str, ...]:
            raw = env.get(variable, "").strip()
            try:
                return tuple(shlex.split(raw)) if raw else default
            except ValueError as error:
                raise SettingsError(f"{variable}: {error}") from None

        settings = cls(
            es=ElasticsearchSettings.from_env(env, account="SCHEDULER"),
            cron=text("cron", "SCHEDULER_CRON", cls.cron),
            full_cron=text("full_cron", "SCHEDULER_FULL_CRON", cls.full_cron),
            timezone=text("timezone", "SCHEDULER_TIMEZONE", cls.timezone),
            misfire_grace_s=number(env, "SCHEDULER_MISFIRE_GRACE_S", cls.misfire_grace_s, int),
            lock_index=text("lock_index", "SCHEDULER_LOCK_INDEX", cls.lock_index),
            lease_s=number(env, "SCHEDULER_LEASE_S", cls.lease_s, int),
            lock_wait_s=given.get("lock_wait_s", number(env, "SCHEDULER_LOCK_WAIT_S", cls.lock_wait_s, int)),
            step_timeout_s=number(env, "SCHEDULER_STEP_TIMEOUT_S", cls.step_timeout_s, int),
            aggregation_command=command("SCHEDULER_AGGREGATION_COMMAND", DEFAULT_AGGREGATION_COMMAND),
            indexer_command=command("SCHEDULER_INDEXER_COMMAND", DEFAULT_INDEXER_COMMAND),
            metrics=MetricsSettings.from_env(env, "SCHEDULER_METRICS_PORT", 9103),
        )
        settings.check()
        return settings

    def check(self) -> None:
        if not self.cron:
            raise SettingsError("SCHEDULER_CRON is empty: give the incremental runs a schedule")
        for variable, expression in (("SCHEDULER_CRON", self.cron), ("SCHEDULER_FULL_CRON", self.full_cron)):
            if expression:
                try:
                    cron_trigger(expression, self.timezone)
                except CronError as error:
                    raise SettingsError(f"{variable}: {error}") from None
        if self.lease_s < 4:
            raise SettingsError(f"SCHEDULER_LEASE_S must be at least 4 seconds, got {self.lease_s}")
        if self.misfire_grace_s < 1 or self.lock_wait_s < 0 or self.step_timeout_s < 1:
            raise SettingsError("SCHEDULER_MISFIRE_GRACE_S and SCHEDULER_STEP_TIMEOUT_S must be >= 1, "
                                "SCHEDULER_LOCK_WAIT_S >= 0")
        if not self.aggregation_command or not self.indexer_command:
            raise SettingsError("the aggregation and indexer commands may not be empty")
