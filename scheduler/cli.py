"""The batch scheduler: runs the aggregation and then the indexer on a cron schedule
(incremental runs, SCHEDULER_CRON) and a nightly full recount (SCHEDULER_FULL_CRON).

    batch-scheduler run             # long-running; Ctrl-C / SIGTERM stops it
    batch-scheduler once [--full]   # one batch run now, then exit
    batch-scheduler status          # the latest run records

(also `python -m scheduler ...`)

Any number of schedulers may run, on any machines: a lock in Elasticsearch lets one
run at a time, and a run already done by another scheduler is skipped. At start, a run
that was due while no scheduler ran, or was cut short (its scheduler died or was stopped),
is made at once. Every attempt is recorded in the ES_RUNS_INDEX index (start, end, objects
listed and read, outcome, which scheduler).

Exit codes: 0 done (once: the run succeeded); 1 the run failed or a service failed;
2 bad settings; 3 (once) skipped: another run held the lock for SCHEDULER_LOCK_WAIT_S.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading

from elasticsearch import Elasticsearch

from pipeline_common.clients import elasticsearch_client
from pipeline_common.contracts import batch_runs
from pipeline_common.environment import SettingsError
from pipeline_common.logs import configure_logging
from pipeline_common.metrics import serve_metrics

from .alerts import BatchAlerts
from .batch import BatchContext, run_batch
from .records import RunRecords
from .service import serve
from .settings import SchedulerSettings

log = logging.getLogger("scheduler")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="batch-scheduler", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run on the schedule until stopped")
    run.add_argument("--cron", help="incremental runs' schedule (env SCHEDULER_CRON; default: */15 * * * *)")
    run.add_argument(
        "--full-cron", help="full recounts' schedule, '' for none (env SCHEDULER_FULL_CRON; default: 30 2 * * *)"
    )
    once = commands.add_parser("once", help="one batch run now (waits for the lock), then exit")
    once.add_argument("--full", action="store_true", help="recount everything instead of adding what is new")
    once.add_argument(
        "--lock-wait",
        type=int,
        dest="lock_wait_s",
        help="seconds to wait for the lock (env SCHEDULER_LOCK_WAIT_S; default: 600)",
    )
    status = commands.add_parser("status", help="print the latest run records as JSON lines")
    status.add_argument("-n", type=int, default=10, help="how many (default: 10)")
    return parser.parse_args(argv)


def batch_alerts(es: Elasticsearch, settings: SchedulerSettings) -> BatchAlerts:
    """The alert rules (ES_ALERT_RULES_INDEX), checked on the batch index (ES_INDEX) after
    each run; alerts recorded in ES_ALERTS_INDEX and posted to ALERT_WEBHOOK_URL if set."""
    return BatchAlerts(
        es,
        settings.es.index,
        settings.es.alert_rules_index,
        settings.es.alerts_index,
        webhook_url=settings.alerts.webhook_url or None,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.verbose)
    overrides = {name: getattr(args, name, None) for name in ("cron", "full_cron", "lock_wait_s")}
    try:
        settings = SchedulerSettings.from_env(**overrides)
    except SettingsError as error:
        log.error("%s", error)
        return 2
    es = elasticsearch_client(settings.es)
    records = RunRecords(es, settings.es.runs_index)
    try:
        if args.command == "status":
            for source in records.recent(args.n):
                print(json.dumps(source, sort_keys=True))
            return 0
        ctx = BatchContext(settings, es, records, threading.Event(), alerts=batch_alerts(es, settings))
        if args.command == "run":
            serve_metrics(settings.metrics)
            serve(ctx)
            return 0
        ctx.prepare()
        kind = batch_runs.FULL if args.full else batch_runs.INCREMENTAL
        record = run_batch(ctx, kind, "manual", ctx.clock(), check_done=False)
        print(json.dumps(record.document(), sort_keys=True))
        return {batch_runs.SUCCESS: 0, batch_runs.SKIPPED: 3}.get(record.outcome, 1)
    except Exception:
        log.exception("scheduler failed")
        return 1
    finally:
        es.close()
