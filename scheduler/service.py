"""The long-running scheduler: APScheduler's BlockingScheduler with one cron job for the
incremental runs and one for the nightly full recount, plus a catch-up run at start
when a run was due while no scheduler was running."""

from __future__ import annotations

import logging
import signal
from datetime import datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.date import DateTrigger

from pipeline_common.contracts import batch_runs
from pipeline_common.timestamps import EPOCH

from . import metrics
from .batch import BatchContext, run_batch
from .records import served_time
from .timing import cron_trigger, latest_fire_time, missed_since

log = logging.getLogger(__name__)


def scheduled_run(ctx: BatchContext, kind: str, trigger) -> None:
    """A cron job's body: the fire time it serves is the trigger's latest one up to now
    (APScheduler does not pass it), found within the misfire grace."""
    now = ctx.clock()
    grace = timedelta(seconds=ctx.settings.misfire_grace_s)
    due = latest_fire_time(trigger, now, now - grace) or now
    run_batch(ctx, kind, "schedule", due)


# a run cut short: its scheduler died (still "running", or "abandoned" once another took the lock over) or was stopped
UNFINISHED = (batch_runs.RUNNING, batch_runs.ABANDONED, batch_runs.INTERRUPTED)


def catch_up(ctx: BatchContext, incremental_trigger, full_trigger, now: datetime) -> tuple[str, datetime] | None:
    """(kind, the fire time missed) of the run to make at start, or None. A missed full
    recount wins (it covers the incremental run); a deployment that never ran starts with
    an incremental run (the first one recounts everything anyway). A newest run cut short
    (the scheduler died or was stopped during it) is made again for the fire time it
    served; that run also checks the alert rules on what the cut-short one indexed (a run
    another scheduler is still making is waited for and then skipped as done)."""
    if full_trigger is not None:
        last_full = served_time(ctx.records.last(kinds=(batch_runs.FULL,)))
        if last_full is not None:
            missed = missed_since(full_trigger, last_full, now)
            if missed is not None:
                return batch_runs.FULL, missed
    last = ctx.records.last()
    missed = missed_since(incremental_trigger, served_time(last), now)
    if missed is None and last is not None and last.get("outcome") in UNFINISHED:
        missed = served_time(last)
    return (batch_runs.INCREMENTAL, missed) if missed is not None else None


def build_scheduler(ctx: BatchContext) -> BlockingScheduler:
    settings = ctx.settings
    scheduler = BlockingScheduler(
        timezone=settings.timezone,
        executors={"default": ThreadPoolExecutor(max_workers=2)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": settings.misfire_grace_s},
    )
    incremental = cron_trigger(settings.cron, settings.timezone)
    full = cron_trigger(settings.full_cron, settings.timezone) if settings.full_cron else None
    scheduler.add_job(
        scheduled_run,
        incremental,
        args=(ctx, batch_runs.INCREMENTAL, incremental),
        id="incremental",
        name=f"incremental aggregation + indexer ({settings.cron})",
    )
    if full is not None:
        scheduler.add_job(
            scheduled_run,
            full,
            args=(ctx, batch_runs.FULL, full),
            id="full",
            name=f"full recount + indexer ({settings.full_cron})",
        )
    missed = catch_up(ctx, incremental, full, ctx.clock())
    if missed is not None:
        kind, due = missed
        log.info("catching up: a %s run due at %s was missed or cut short", kind, due.isoformat())
        scheduler.add_job(
            run_batch,
            DateTrigger(ctx.clock()),
            args=(ctx, kind, "catch-up", due),
            id="catch-up",
            name=f"catch-up {kind} run",
            misfire_grace_time=None,
        )
    return scheduler


def serve(ctx: BatchContext) -> None:
    """Run until SIGTERM or SIGINT; a run in progress is stopped and recorded as interrupted."""
    ctx.prepare()
    for kind in (batch_runs.INCREMENTAL, batch_runs.FULL):
        metrics.seed(ctx.records.done_since((kind,), EPOCH))
    scheduler = build_scheduler(ctx)

    def shutdown(signum, _frame) -> None:
        log.info("%s: stopping (a run in progress is stopped and recorded)", signal.Signals(signum).name)
        ctx.stop.set()
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    for job in scheduler.get_jobs():
        log.info("job %r", job.name)
    scheduler.start()  # blocks until shutdown
    ctx.wait_idle()  # a run being stopped still records its outcome and releases the lock
    log.info("scheduler stopped")
