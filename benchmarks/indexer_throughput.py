"""Indexer throughput (documents/s) against the local Elasticsearch and S3.

N synthetic aggregates are written once as a complete run under
s3://<bucket>/bench/indexer-<N>/mapreduce-output/ (reused by later runs), then, in the
same run, each into a fresh index:
  1. the indexer (`count-indexer` logic: read part-* from S3,
     parse and check every line, bulk-index with ids, refresh, prune);
  2. a bare `elasticsearch.helpers.streaming_bulk` of the same documents, built in
     memory beforehand (no S3, no parsing);
and prints both rates and their ratio. Both indices are deleted afterwards.

    python -m benchmarks.indexer_throughput --documents 50000
"""

from __future__ import annotations

import logging
import random
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

from elasticsearch.helpers import streaming_bulk

from benchmarks.common import argument_parser, configured, save_figures, table
from es_indexer.documents import INDEX_BODY, actions
from es_indexer.run import index_run
from es_indexer.settings import IndexerSettings
from pipeline_common.clients import elasticsearch_client, s3_client
from pipeline_common.contracts import Aggregate, Interval
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


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__, "indexer_throughput")
    parser.add_argument("--documents", type=int, default=50_000, help="aggregates to index (default: 50000)")
    parser.add_argument("--chunk-size", type=int, default=500)
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    prefix = f"bench/indexer-{args.documents}/mapreduce-output/"
    env, settings = configured(IndexerSettings, output_prefix=prefix, run_id=RUN_ID, chunk_size=args.chunk_size)
    suffix = uuid.uuid4().hex[:8]
    # in the indexer's family of indices (ES_INDEX*), which its own account writes; the bare
    # baseline uses the same account
    family = settings.es.index
    indexer_index, bare_index = f"{family}-bench-indexer-{suffix}", f"{family}-bench-bare-bulk-{suffix}"
    settings = settings.replace(es=settings.es.replace(index=indexer_index))
    s3, es = s3_client(settings.s3), elasticsearch_client(settings.es, request_timeout=120)
    aggregates = synthetic_aggregates(args.documents)
    ensure_run(s3, settings.s3.bucket, prefix, aggregates)
    try:
        started = time.perf_counter()
        summary = index_run(settings, s3, es, utc_now())
        indexer_s = time.perf_counter() - started

        documents = list(actions(aggregates, bare_index, RUN_ID, utc_now()))
        es.indices.create(index=bare_index, **INDEX_BODY)
        started = time.perf_counter()
        failed = sum(
            not ok for ok, _ in streaming_bulk(es, documents, chunk_size=args.chunk_size, raise_on_error=False)
        )
        es.indices.refresh(index=bare_index)
        bare_s = time.perf_counter() - started

        counts = (es.count(index=indexer_index)["count"], es.count(index=bare_index)["count"])
    finally:
        es.close()
        with elasticsearch_client(ElasticsearchSettings.from_env(env)) as admin:  # the indexer may not delete
            admin.indices.delete(index=f"{indexer_index},{bare_index}", ignore_unavailable=True)
    if summary.outcome.failed or failed or counts != (args.documents, args.documents):
        log.error(
            "documents missing: indexer %s failed, bare %s failed, counts %s", summary.outcome.failed, failed, counts
        )
        return 1
    indexer_rate, bare_rate = args.documents / indexer_s, args.documents / bare_s
    columns = [
        ("documents", 9),
        ("indexer s", 10),
        ("indexer doc/s", 14),
        ("bare s", 8),
        ("bare doc/s", 11),
        ("indexer/bare", 13),
    ]
    print(
        "\n"
        + table(
            columns,
            [
                [
                    str(args.documents),
                    f"{indexer_s:.1f}",
                    f"{indexer_rate:.0f}",
                    f"{bare_s:.1f}",
                    f"{bare_rate:.0f}",
                    f"{indexer_rate / bare_rate:.2f}",
                ]
            ],
        )
    )
    save_figures(
        args.json,
        {
            "documents": args.documents,
            "indexer_s": indexer_s,
            "bare_s": bare_s,
            "indexer_rate": indexer_rate,
            "bare_rate": bare_rate,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
