"""The scheduler's pure parts: cron expressions, fire times, catch-up, settings, records."""

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from pipeline_common.contracts import batch_runs
from pipeline_common.environment import SettingsError
from scheduler.records import RunRecord
from scheduler.service import catch_up
from scheduler.settings import DEFAULT_AGGREGATION_COMMAND, SchedulerSettings
from scheduler.timing import CronError, cron_trigger, latest_fire_time, missed_since

ENV = {"SCHEDULER_ES_USERNAME": "batch-scheduler", "SCHEDULER_ES_PASSWORD": "secret"}


def utc(*parts):
    return datetime(*parts, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "expression, after, expected",
    [
        ("*/15 * * * *", utc(2026, 11, 28, 10, 7), utc(2026, 11, 28, 10, 15)),
        ("30 2 * * *", utc(2026, 11, 28, 10, 7), utc(2026, 11, 29, 2, 30)),
        ("*/10 * * * * *", utc(2026, 11, 28, 10, 7, 1), utc(2026, 11, 28, 10, 7, 10)),  # seconds first
    ],
)
def test_cron_expressions(expression, after, expected):
    assert cron_trigger(expression).get_next_fire_time(None, after) == expected


@pytest.mark.parametrize("expression", ["", "* * *", "61 * * * *", "* * * * * * *", "*/15 * * * mon-xyz"])
def test_bad_cron_expressions_are_refused(expression):
    with pytest.raises(CronError):
        cron_trigger(expression)


def test_latest_fire_time_is_the_one_a_run_serves():
    trigger = cron_trigger("*/15 * * * *")
    now = utc(2026, 11, 28, 10, 7, 30)
    assert latest_fire_time(trigger, now, now - timedelta(minutes=10)) == utc(2026, 11, 28, 10, 0)
    assert latest_fire_time(trigger, now, now - timedelta(minutes=5)) is None
    assert latest_fire_time(trigger, utc(2026, 11, 28, 10, 0), utc(2026, 11, 28, 9, 0)) == utc(2026, 11, 28, 10, 0)


@pytest.mark.parametrize(
    "last, expected",
    [
        (None, "now"),  # nothing ever ran: run at start
        (utc(2026, 11, 28, 10, 0), None),  # the latest fire was served
        (utc(2026, 11, 28, 9, 45), utc(2026, 11, 28, 10, 0)),  # one missed
        (utc(2026, 11, 25, 9, 45), utc(2026, 11, 28, 10, 0)),  # days down: one run, for the latest
    ],
)
def test_missed_runs_are_found_once(last, expected):
    now = utc(2026, 11, 28, 10, 7)
    found = missed_since(cron_trigger("*/15 * * * *"), last, now)
    assert found == (now if expected == "now" else expected)


def test_settings_defaults_and_overrides():
    settings = SchedulerSettings.from_env(ENV)
    assert (settings.cron, settings.full_cron, settings.lease_s) == ("*/15 * * * *", "30 2 * * *", 120)
    assert settings.aggregation_command == DEFAULT_AGGREGATION_COMMAND
    assert settings.compact_command[-3:] == ("archiver", "compact", "--no-progress")
    assert settings.es.runs_index == "pipeline-batch-runs"
    settings = SchedulerSettings.from_env(
        {
            **ENV,
            "SCHEDULER_CRON": "*/5 * * * *",
            "SCHEDULER_FULL_CRON": "",
            "SCHEDULER_AGGREGATION_COMMAND": "count-aggregation -r 'local'",
            "SCHEDULER_COMPACT_COMMAND": "detection-archiver compact --min-age-hours 6",
        },
        cron="0 * * * *",
        lock_wait_s=0,
    )
    assert (settings.cron, settings.full_cron, settings.lock_wait_s) == ("0 * * * *", "", 0)
    assert settings.aggregation_command == ("count-aggregation", "-r", "local")
    assert settings.compact_command == ("detection-archiver", "compact", "--min-age-hours", "6")


@pytest.mark.parametrize(
    "env, message",
    [
        ({"SCHEDULER_CRON": "every hour"}, "SCHEDULER_CRON"),
        ({"SCHEDULER_FULL_CRON": "99 * * * *"}, "SCHEDULER_FULL_CRON"),
        ({"SCHEDULER_CRON": ""}, "SCHEDULER_CRON is empty"),
        ({"SCHEDULER_LEASE_S": "2"}, "SCHEDULER_LEASE_S"),
        ({"SCHEDULER_TIMEZONE": "Mars/Olympus"}, "SCHEDULER_CRON"),
        ({"SCHEDULER_INDEXER_COMMAND": "'unclosed"}, "SCHEDULER_INDEXER_COMMAND"),
    ],
)
def test_bad_settings_are_refused(env, message):
    with pytest.raises(SettingsError, match=message):
        SchedulerSettings.from_env({**ENV, **env})


def test_run_record_document():
    record = RunRecord(
        kind=batch_runs.INCREMENTAL,
        trigger="schedule",
        scheduled_for=utc(2026, 11, 28, 10),
        runner="host:1",
        run_id="20261128T100001Z",
        started_at=utc(2026, 11, 28, 10, 0, 1),
        finished_at=utc(2026, 11, 28, 10, 0, 31),
        outcome=batch_runs.SUCCESS,
        aggregation={"mode": "incremental", "objects_read": 3, "exit_code": 0},
    )
    document = record.document()
    assert document["duration_s"] == 30.0
    assert document["scheduled_for"] == "2026-11-28T10:00:00.000Z"
    assert "reason" not in document and "indexer" not in document
    assert set(document) <= set(batch_runs.MAPPINGS["properties"])
    shown = batch_runs.describe(document, utc(2026, 11, 28, 10, 1, 31))
    assert (shown["age_s"], shown["objects_read"], shown["outcome"]) == (60.0, 3, "success")


class Newest:
    """The run records catch_up reads: the newest of each kind."""

    def __init__(self, incremental=None, full=None):
        self.by_kind = {batch_runs.INCREMENTAL: incremental, batch_runs.FULL: full}

    def last(self, kinds=(batch_runs.INCREMENTAL, batch_runs.FULL)):
        found = [self.by_kind[kind] for kind in kinds if self.by_kind[kind]]
        return max(found, key=lambda record: record["started_at"]) if found else None


def record(outcome: str, due: datetime) -> dict:
    return {"outcome": outcome, "scheduled_for": due.isoformat(), "started_at": due.isoformat()}


@pytest.mark.parametrize(
    "outcome, expected",
    [
        (batch_runs.SUCCESS, None),  # the latest fire was served
        (batch_runs.FAILED, None),  # it ran to its end: the next fire tries again
        (batch_runs.RUNNING, utc(2026, 11, 28, 10, 0)),  # its scheduler died during it
        (batch_runs.ABANDONED, utc(2026, 11, 28, 10, 0)),  # ... and another took the lock over
        (batch_runs.INTERRUPTED, utc(2026, 11, 28, 10, 0)),  # its scheduler was stopped during it
    ],
)
def test_a_run_cut_short_is_made_again_at_start(outcome, expected):
    every_15 = cron_trigger("*/15 * * * *")
    ctx = SimpleNamespace(records=Newest(incremental=record(outcome, utc(2026, 11, 28, 10, 0))))
    found = catch_up(ctx, every_15, None, utc(2026, 11, 28, 10, 7))
    assert found == (None if expected is None else (batch_runs.INCREMENTAL, expected))
    # a fire missed since wins: one run, for the latest fire time
    assert catch_up(ctx, every_15, None, utc(2026, 11, 28, 10, 20)) == (
        batch_runs.INCREMENTAL,
        utc(2026, 11, 28, 10, 15),
    )


def test_a_missed_full_recount_wins_over_a_run_cut_short():
    nightly = cron_trigger("30 2 * * *")
    ctx = SimpleNamespace(
        records=Newest(
            incremental=record(batch_runs.RUNNING, utc(2026, 11, 28, 10, 0)),
            full=record(batch_runs.SUCCESS, utc(2026, 11, 27, 2, 30)),
        )
    )
    assert catch_up(ctx, cron_trigger("*/15 * * * *"), nightly, utc(2026, 11, 28, 10, 7)) == (
        batch_runs.FULL,
        utc(2026, 11, 28, 2, 30),
    )
