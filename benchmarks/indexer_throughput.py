"""Indexer throughput (documents/s) against the local Elasticsearch and S3.

N synthetic aggregates are written once as a complete run under
s3://<bucket>/bench/indexer-<N>/mapreduce-output/ (reused by later runs), then, in the
same run, each into a fresh index, in rounds (--rounds; which goes first alternates):
  1. the indexer (`count-indexer` logic: read part-* from S3,
     parse and check every line, bulk-index with ids, refresh, prune);
  2. a bare `elasticsearch.helpers.streaming_bulk` of the same documents, built in
     memory beforehand (no S3, no parsing), with the same client and chunk size;
and prints both rates and their ratio per round, the median ratio, and the CPU time this
process spent in each (all its threads): on a shared machine the rates move with
Elasticsearch's share of the cores, the CPU seconds show what the indexer's own Python
costs. The indices are deleted after each round.

    python -m benchmarks.indexer_throughput --documents 50000
"""

from __future__ import annotations

import logging
import os
import random
import statistics
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

from elasticsearch.helpers import streaming_bulk

from benchmarks.common import argument_parser, configured, save_figures, table
from es_indexer.documents import INDEX_BODY, actions
from es_indexer.index import ensure_index
from es_indexer.run import index_run, lock_index
from es_indexer.settings import IndexerSettings
from pipeline_common.clients import elasticsearch_client, s3_client
from pipeline_common.contracts import Aggregate, Interval
from pipeline_common.lease import LOCK_MAPPINGS, ensure_index as ensure_lock_index
from pipeline_common.logs import configure_logging
from pipeline_common.output_runs import is_complete
from pipeline_common.settings import ElasticsearchSettings
from pipeline_common.timestamps import utc_now

log = logging.getLogger("benchmarks.indexer_throughput")

RUN_ID = "20260101T000000Z"
LABELS = ["person", "car", "bicycle", "dog", "truck", "bus", "cat", "traffic light"]
START = datetime(2025, 1, 1, tzinfo=timezone.utc)


def synthetic_aggregates(count: int) -> list[Aggregate]:
    """`count` distinct hourly buckets over labels x 10 sources."""
    rng = random.Random(count)
    per_hour = len(LABELS) * 10
    result = []
    for number in range(count):
        hour, rest = divmod(number, per_hour)
        label, source = LABELS[rest % len(LABELS)], f"cam-{rest // len(LABELS)}"
        images = rng.randrange(1, 50)
        result.append(
            Aggregate(label, source, Interval.HOUR, START + timedelta(hours=hour), images + rng.randrange(30), images)
        )
    return result


def ensure_run(s3, bucket: str, prefix: str, aggregates: list[Aggregate], per_part: int = 20_000) -> None:
    if is_complete(s3, bucket, prefix, RUN_ID):
        log.info("reusing run %s under s3://%s/%s", RUN_ID, bucket, prefix)
        return
    for part, start in enumerate(range(0, len(aggregates), per_part)):
        body = "".join(a.to_line() + "\n" for a in aggregates[start : start + per_part]).encode()
        s3.put_object(Bucket=bucket, Key=f"{prefix}{RUN_ID}/part-{part:05d}", Body=body)
    s3.put_object(Bucket=bucket, Key=f"{prefix}{RUN_ID}/_SUCCESS", Body=b"")


@dataclass(frozen=True)
class Round:
    indexer_s: float
    indexer_cpu_s: float
    bare_s: float
    bare_cpu_s: float
    load_average: float  # the 1-minute load when the round began

    def ratio(self) -> float:
        return self.bare_s / self.indexer_s  # = indexer doc/s / bare doc/s


def one_round(number: int, settings: IndexerSettings, env, s3, es, aggregates, chunk_size: int) -> Round:
    """The indexer and the bare bulk, each into a fresh index (deleted afterwards); which goes
    first alternates from round to round, so a load that drifts during a round favours neither."""
    load = os.getloadavg()[0]
    suffix = uuid.uuid4().hex[:8]
    # in the indexer's family of indices (ES_INDEX*), which its own account writes; the bare
    # baseline uses the same account
    family = settings.es.index
    indexer_index, bare_index = f"{family}-bench-indexer-{suffix}", f"{family}-bench-bare-bulk-{suffix}"
    settings = settings.replace(es=settings.es.replace(index=indexer_index))
    documents = list(actions(aggregates, bare_index, RUN_ID, utc_now()))
    figures: dict[str, tuple[float, float]] = {}

    def indexer() -> None:
        # its index and lock index made beforehand, as after its first run (and as the bare
        # bulk's index): both clocks time the documents, not the creation of an index
        ensure_index(es, indexer_index)
        ensure_lock_index(es, lock_index(indexer_index), LOCK_MAPPINGS)
        started, cpu = time.perf_counter(), time.process_time()
        summary = index_run(settings, s3, es, utc_now())
        figures["indexer"] = (time.perf_counter() - started, time.process_time() - cpu)
        if summary.outcome.failed:
            raise RuntimeError(f"the indexer failed {summary.outcome.failed} documents")

    def bare() -> None:
        es.indices.create(index=bare_index, **INDEX_BODY)
        started, cpu = time.perf_counter(), time.process_time()
        failed = sum(not ok for ok, _ in streaming_bulk(es, documents, chunk_size=chunk_size, raise_on_error=False))
        es.indices.refresh(index=bare_index)
        figures["bare"] = (time.perf_counter() - started, time.process_time() - cpu)
        if failed:
            raise RuntimeError(f"the bare bulk failed {failed} documents")

    try:
        for step in (indexer, bare) if number % 2 else (bare, indexer):
            step()
        counts = (es.count(index=indexer_index)["count"], es.count(index=bare_index)["count"])
        if counts != (len(aggregates), len(aggregates)):
            raise RuntimeError(f"documents missing: indexer and bare hold {counts}, expected {len(aggregates)} each")
    finally:
        with elasticsearch_client(ElasticsearchSettings.from_env(env)) as admin:  # the indexer may not delete
            admin.indices.delete(
                index=f"{indexer_index},{lock_index(indexer_index)},{bare_index}", ignore_unavailable=True
            )
    return Round(*figures["indexer"], *figures["bare"], load)


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__, "indexer_throughput")
    parser.add_argument("--documents", type=int, default=50_000, help="aggregates to index (default: 50000)")
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="indexer and bare bulk this many times each; the median counts (default 3)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be between 1 and 20")
    configure_logging(args.verbose)
    prefix = f"bench/indexer-{args.documents}/mapreduce-output/"
    env, settings = configured(IndexerSettings, output_prefix=prefix, run_id=RUN_ID, chunk_size=args.chunk_size)
    s3, es = s3_client(settings.s3), elasticsearch_client(settings.es, request_timeout=120)
    aggregates = synthetic_aggregates(args.documents)
    ensure_run(s3, settings.s3.bucket, prefix, aggregates)
    rounds = []
    try:
        for number in range(1, args.rounds + 1):
            rounds.append(one_round(number, settings, env, s3, es, aggregates, args.chunk_size))
    except RuntimeError as error:
        log.error("round %d: %s", len(rounds) + 1, error)
        return 1
    finally:
        es.close()
    n = args.documents
    columns = [
        ("round", 5),
        ("load", 5),
        ("indexer s", 10),
        ("indexer doc/s", 14),
        ("bare s", 7),
        ("bare doc/s", 11),
        ("indexer/bare", 13),
        ("indexer cpu s", 14),
        ("bare cpu s", 11),
    ]
    rows = [
        [
            str(number),
            f"{r.load_average:.1f}",
            f"{r.indexer_s:.1f}",
            f"{n / r.indexer_s:.0f}",
            f"{r.bare_s:.1f}",
            f"{n / r.bare_s:.0f}",
            f"{r.ratio():.2f}",
            f"{r.indexer_cpu_s:.1f}",
            f"{r.bare_cpu_s:.1f}",
        ]
        for number, r in enumerate(rounds, start=1)
    ]
    ratios = sorted(r.ratio() for r in rounds)
    print(f"\n{n} documents, chunk size {args.chunk_size}\n" + table(columns, rows))
    print(
        f"indexer/bare: median {statistics.median(ratios):.2f} (from {ratios[0]:.2f} to {ratios[-1]:.2f}); "
        f"goal (issue 13): 0.9 or better"
    )
    save_figures(
        args.json,
        {
            "documents": n,
            "chunk_size": args.chunk_size,
            "median_ratio": statistics.median(ratios),
            "rounds": [{**asdict(r), "ratio": r.ratio()} for r in rounds],
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
