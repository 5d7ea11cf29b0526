"""Index one complete aggregation run: read its part-* files, bulk-index them with
deterministic ids, then delete the buckets that run no longer has."""
from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from datetime import datetime

from elasticsearch import Elasticsearch
from tqdm import tqdm

from pipeline_common.output_runs import is_complete, is_part_key, newest_complete_run, run_prefix
from pipeline_common.s3 import S3Client, list_keys

from .documents import actions
from .index import BulkOutcome, bulk_index, ensure_index, newest_indexed_run, prune_stale
from .reading import ReadAhead, SkippedLine, parse_lines, s3_lines
from .settings import IndexerSettings

log = logging.getLogger(__name__)


class RunNotFoundError(RuntimeError):
    """No complete run to index, or the chosen one is missing or incomplete."""


class OlderRunError(RuntimeError):
    """The index already holds a newer run of the same interval."""


@dataclass
class IndexSummary:
    run_id: str
    index: str
    part_files: int
    outcome: BulkOutcome
    skipped: list[SkippedLine] = field(default_factory=list)
    deleted: int = 0
    pruned: bool = False

    def to_dict(self) -> dict:
        o = self.outcome
        return {"run_id": self.run_id, "index": self.index, "part_files": self.part_files,
                "created": o.created, "updated": o.updated, "failed": o.failed,
                "skipped_lines": len(self.skipped), "deleted": self.deleted, "pruned": self.pruned}

    def lines(self) -> list[str]:
        o = self.outcome
        return [
            f"run {self.run_id} -> index {self.index} ({self.part_files} part file(s))",
            f"  indexed (created): {o.created}",
            f"  updated:           {o.updated}",
            f"  failed:            {o.failed}",
            f"  skipped lines:     {len(self.skipped)}",
            f"  stale deleted:     {self.deleted}" + ("" if self.pruned else " (pruning skipped)"),
        ]


def resolve_run(s3: S3Client, settings: IndexerSettings) -> str:
    bucket, prefix = settings.s3.bucket, settings.output_prefix
    if settings.run_id is None:
        run_id = newest_complete_run(s3, bucket, prefix)
        if run_id is None:
            raise RunNotFoundError(f"no complete run (with _SUCCESS) under s3://{bucket}/{prefix}")
        return run_id
    if not is_complete(s3, bucket, prefix, settings.run_id):
        raise RunNotFoundError(
            f"s3://{bucket}/{run_prefix(prefix, settings.run_id)} has no _SUCCESS marker: "
            "the run is missing or did not finish"
        )
    return settings.run_id


def index_run(settings: IndexerSettings, s3: S3Client, es: Elasticsearch, now: datetime) -> IndexSummary:
    index = settings.es.index
    run_id = resolve_run(s3, settings)
    prefix = run_prefix(settings.output_prefix, run_id)
    keys = sorted(k for k in list_keys(s3, settings.s3.bucket, prefix) if is_part_key(k))
    log.info("indexing run %s: %s part file(s) under s3://%s/%s", run_id, len(keys), settings.s3.bucket, prefix)
    ensure_index(es, index)

    skipped: list[SkippedLine] = []
    aggregates = parse_lines(s3_lines(s3, settings.s3.bucket, keys), skipped)
    first = next(aggregates, None)
    intervals: set[str] = set()
    if first is not None:
        # one job run covers one interval: its first line tells which
        newer = newest_indexed_run(es, index, [first.interval.value])
        if newer is not None and newer > run_id and not settings.allow_older:
            raise OlderRunError(
                f"index {index} already holds run {newer} for {first.interval.value} buckets, "
                f"newer than {run_id}; pass --allow-older to replace it anyway"
            )

    def remember_intervals(stream):
        for aggregate in stream:
            intervals.add(aggregate.interval.value)
            yield aggregate

    stream = remember_intervals(itertools.chain([first] if first else [], aggregates))
    with tqdm(desc=f"indexing into {index}", unit=" docs", disable=None) as progress:
        # Reading S3, parsing and building documents run in a thread of their own, ahead
        # of the bulk requests, so neither waits for the other.
        outcome = bulk_index(
            es,
            ReadAhead(actions(stream, index, run_id, now), depth=4 * settings.chunk_size),
            chunk_size=settings.chunk_size,
            max_retries=settings.max_retries,
            initial_backoff=settings.initial_backoff,
            max_backoff=settings.max_backoff,
            progress=progress,
        )
    for line in skipped:
        log.warning("skipped line %s", line)
    es.indices.refresh(index=index)

    summary = IndexSummary(run_id, index, len(keys), outcome, skipped)
    if not settings.prune:
        log.info("pruning disabled: documents of earlier runs are kept")
    elif outcome.failed:
        log.warning("%s document(s) failed: earlier runs' documents are kept", outcome.failed)
    elif skipped:
        # a malformed line's bucket is unknown: pruning could delete its only count
        log.warning("%s line(s) skipped: earlier runs' documents are kept", len(skipped))
    elif not intervals:
        log.warning("run %s has no aggregates: nothing tells which interval to prune", run_id)
    else:
        summary.deleted = prune_stale(es, index, sorted(intervals), run_id)
        summary.pruned = True
    return summary
