"""One batch run: take the lock, run the aggregation and then the indexer on the same
run id, record what happened. Every attempt leaves a record, skipped ones included."""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from elastic_transport import TransportError
from elasticsearch import ApiError, ConflictError, Elasticsearch

from pipeline_common.contracts import batch_runs
from pipeline_common.lease import LOCK_MAPPINGS, Lease, LeaseKeeper, ensure_index
from pipeline_common.output_runs import new_run_id
from pipeline_common.timestamps import to_iso, utc_now

from . import metrics
from .alerts import BatchAlerts, Snapshot, to_pending
from .records import RunRecord, RunRecords
from .settings import SchedulerSettings
from .steps import StepResult, run_step

log = logging.getLogger(__name__)

LOCK_POLL_S = 2.0
# A run asked for `kind` is already done when a successful run of one of these started after it was due.
COVERED_BY = {batch_runs.INCREMENTAL: (batch_runs.INCREMENTAL, batch_runs.FULL), batch_runs.FULL: (batch_runs.FULL,)}


def runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class BatchContext:
    settings: SchedulerSettings
    es: Elasticsearch
    records: RunRecords
    stop: threading.Event  # set when the scheduler shuts down
    clock: Callable[[], datetime] = utc_now
    runner: str = ""
    alerts: BatchAlerts | None = None  # the alert rules, checked on what each run indexed

    def __post_init__(self) -> None:
        self.runner = self.runner or runner_name()
        self._active = 0
        self._idle = threading.Condition()

    def enter(self) -> None:
        with self._idle:
            self._active += 1

    def leave(self) -> None:
        with self._idle:
            self._active -= 1
            self._idle.notify_all()

    def wait_idle(self) -> None:
        """Until no batch runs in this process (they finish quickly once `stop` is set)."""
        with self._idle:
            self._idle.wait_for(lambda: self._active == 0)

    def prepare(self) -> None:
        self.records.ensure_index()
        ensure_index(self.es, self.settings.lock_index, LOCK_MAPPINGS)


def _step_outcome(name: str, result: StepResult) -> str:
    """'' when the step succeeded, else why not."""
    if result.stopped_because:
        return f"{name} stopped: {result.stopped_because}"
    if not result.ok:
        return f"{name} exited with code {result.exit_code}"
    return ""


def run_batch(
    ctx: BatchContext, kind: str, trigger: str, scheduled_for: datetime, check_done: bool = True
) -> RunRecord:
    """Run one batch (or record why not) and return its record."""
    ctx.enter()
    try:
        if ctx.stop.is_set():
            record = RunRecord(kind=kind, trigger=trigger, scheduled_for=scheduled_for, runner=ctx.runner)
            return _skipped(ctx, record, "the scheduler is stopping")
        return _locked_batch(ctx, kind, trigger, scheduled_for, check_done)
    finally:
        ctx.leave()


def _locked_batch(ctx: BatchContext, kind: str, trigger: str, scheduled_for: datetime, check_done: bool) -> RunRecord:
    settings = ctx.settings
    record = RunRecord(kind=kind, trigger=trigger, scheduled_for=scheduled_for, runner=ctx.runner)
    lease = Lease(
        ctx.es,
        settings.lock_index,
        settings.lock_name,
        ctx.runner,
        timedelta(seconds=settings.lease_s),
        clock=ctx.clock,
        record_id=record.record_id,
    )
    deadline = ctx.clock() + timedelta(seconds=settings.lock_wait_s)
    holder = lease.try_acquire()
    while holder is not None:
        if ctx.clock() >= deadline or ctx.stop.wait(LOCK_POLL_S):
            return _skipped(ctx, record, f"the lock was held by {holder}")
        holder = lease.try_acquire()
    try:
        if lease.previous is not None and lease.previous.record_id:
            ctx.records.mark_abandoned(lease.previous.record_id, ctx.runner)
        _check_previous_alerts(ctx)
        if check_done:
            done = ctx.records.done_since(COVERED_BY[kind], scheduled_for)
            if done is not None:
                return _skipped(
                    ctx,
                    record,
                    f"already done by run {done.get('run_id')} ({done.get('runner')}), "
                    f"started {done.get('started_at')}",
                )
        return _run(ctx, record, lease)
    finally:
        lease.release()


def _skipped(ctx: BatchContext, record: RunRecord, reason: str) -> RunRecord:
    record.outcome, record.reason = batch_runs.SKIPPED, reason
    record.started_at = record.finished_at = ctx.clock()
    log.info("%s run due %s skipped: %s", record.kind, record.scheduled_for.isoformat(), reason)
    ctx.records.write(record)
    metrics.observe(record.kind, record.outcome, None, None)
    return record


def _alerts_before(ctx: BatchContext, record: RunRecord) -> Snapshot | None:
    """The rules' breached buckets before the run; None (said in the record) when they
    cannot be read: the run goes on, its new breaches are not checked."""
    if ctx.alerts is None:
        return None
    try:
        return ctx.alerts.before_run()
    except (ApiError, TransportError) as error:
        record.alerts = {"error": f"the alert rules or the batch index could not be read: {error}"[:500]}
        log.error("run %s: alerts not checked: %s", record.run_id, record.alerts["error"])
        return None


def _check_previous_alerts(ctx: BatchContext) -> None:
    """The alert check the previous run did not get to: its scheduler died (or was
    stopped) after the indexer started and before the check. Its record still holds the
    snapshot of the breaches before it ("pending"); its documents are still in the batch
    index (no run came between: this one holds the lock and has not indexed yet)."""
    if ctx.alerts is None:
        return
    previous = ctx.records.last()
    pending = ((previous or {}).get("alerts") or {}).get("pending")
    if not pending or not previous.get("run_id"):
        return
    run_id = previous["run_id"]
    try:
        summary: dict = ctx.alerts.recheck(pending, run_id)
    except (ApiError, TransportError) as error:
        summary = {"error": f"checking the alert rules late failed: {error}"[:500]}
        log.error("run %s: %s", run_id, summary["error"])
    summary.update(checked_by=ctx.runner, checked_at=to_iso(ctx.clock()))
    log.info("run %s (%s) had not checked the alert rules; checked now: %s", run_id, previous.get("outcome"), summary)
    try:
        ctx.records.set_alerts(previous["record_id"], summary)
    except ConflictError:  # its scheduler wrote its record meanwhile (a lost lease): it keeps its own
        log.warning("run %s: its record changed meanwhile; the late alert check is only logged", run_id)


def _alerts_after(ctx: BatchContext, record: RunRecord, snapshot: Snapshot | None) -> None:
    if ctx.alerts is None or snapshot is None:
        return
    try:
        record.alerts = ctx.alerts.after_run(snapshot, record.run_id)
    except (ApiError, TransportError) as error:
        record.alerts = {"error": f"checking the alert rules failed: {error}"[:500]}
        log.error("run %s: %s", record.run_id, record.alerts["error"])


def _run(ctx: BatchContext, record: RunRecord, lease: Lease) -> RunRecord:
    settings = ctx.settings
    record.started_at = ctx.clock()
    record.run_id = new_run_id(record.started_at)
    snapshot = _alerts_before(ctx, record)
    if snapshot is not None and snapshot.rules:  # kept until checked: the run after this one checks it otherwise
        record.alerts = {"rules": len(snapshot.rules), "pending": to_pending(snapshot)}
    ctx.records.write(record)
    log.info(
        "%s run %s (%s, due %s) started", record.kind, record.run_id, record.trigger, record.scheduled_for.isoformat()
    )
    every = timedelta(seconds=settings.lease_s / 4)
    with LeaseKeeper(lease, every=every, margin=every) as keeper:
        stops = [(keeper.lost, "the lock was lost"), (ctx.stop, "the scheduler is stopping")]
        aggregation_command = [*settings.aggregation_command, "--run-id", record.run_id]
        if record.kind == batch_runs.FULL:
            aggregation_command.append("--full")
            # fewer, larger files for the recount; an optimisation only: the recount runs anyway
            compaction = run_step("compaction", settings.compact_command, stops, settings.step_timeout_s)
            if not compaction.ok:
                log.warning("%s; the full recount reads the files as they are", _step_outcome("compaction", compaction))
        aggregation = run_step("aggregation", aggregation_command, stops, settings.step_timeout_s)
        record.aggregation = {**aggregation.summary, "exit_code": aggregation.exit_code}
        problem = _step_outcome("aggregation", aggregation)
        if not problem:
            indexer = run_step(
                "indexer", [*settings.indexer_command, "--run-id", record.run_id], stops, settings.step_timeout_s
            )
            record.indexer = {**indexer.summary, "exit_code": indexer.exit_code}
            problem = _step_outcome("indexer", indexer)
            if not indexer.stopped_because:  # what it indexed, even with some lines skipped
                _alerts_after(ctx, record, snapshot)
        else:  # nothing indexed: nothing to check, now or later
            record.alerts.pop("pending", None)
    record.finished_at = ctx.clock()
    if not problem:
        record.outcome = batch_runs.SUCCESS
    elif ctx.stop.is_set():
        record.outcome, record.reason = batch_runs.INTERRUPTED, problem
    else:
        record.outcome, record.reason = batch_runs.FAILED, problem
    (log.info if not problem else log.error)(
        "%s run %s: %s%s", record.kind, record.run_id, record.outcome, f" ({problem})" if problem else ""
    )
    ctx.records.write(record)
    metrics.observe(record.kind, record.outcome, record.started_at, record.finished_at)
    return record
