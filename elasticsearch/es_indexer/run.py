"""Index one complete aggregation run: read its part-* files, bulk-index them with
deterministic ids, then delete the buckets that run no longer has, unless anything says
the run is partial (`pruning.py`). One indexer at a time per index: a lease in
Elasticsearch (`<index>-lock`), so two never prune each other's documents."""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch
from tqdm import tqdm

from pipeline_common.contracts import ContractError
from pipeline_common.lease import LOCK_MAPPINGS, Lease, LeaseKeeper, ensure_index as ensure_lock_index
from pipeline_common.output_runs import (
    RunInput,
    is_complete,
    is_part_key,
    newest_complete_run,
    read_run_input,
    run_prefix,
)
from pipeline_common.s3 import S3Client, list_keys

from .documents import encoded_actions
from .index import BulkOutcome, bulk_index, ensure_index, newest_indexed_run, prune_stale
from .pruning import prune_refusal
from .reading import ReadAhead, SkippedLine, parse_lines, s3_lines
from .settings import IndexerSettings

log = logging.getLogger(__name__)


class RunNotFoundError(RuntimeError):
    """No complete run to index, or the chosen one is missing or incomplete."""


class OlderRunError(RuntimeError):
    """The index already holds a newer run of the same interval."""


class IndexerBusyError(RuntimeError):
    """Another indexer holds this index's lock."""


LOCK_NAME = "count-indexer"
LEASE = timedelta(minutes=2)  # renewed every 30 s while the run is indexed


def lock_index(index: str) -> str:
    """The lock's own index, in the indexer's index family (its account's rights)."""
    return f"{index}-lock"


@contextlib.contextmanager
def indexer_lock(es: Elasticsearch, index: str):
    """Hold the index's lock while indexing; yields the keeper, whose `lost` is set when
    the lease could not be renewed (nothing is pruned then)."""
    name = lock_index(index)
    ensure_lock_index(es, name, LOCK_MAPPINGS)
    lease = Lease(es, name, LOCK_NAME, f"count-indexer@{socket.gethostname()}:{os.getpid()}", LEASE)
    holder = lease.try_acquire()
    if holder is not None:
        raise IndexerBusyError(f"another indexer is indexing {index}: {holder} holds {name}; try again later")
    try:
        with LeaseKeeper(lease, every=LEASE / 4, margin=LEASE / 4) as keeper:
            yield keeper
    finally:
        try:
            lease.release()
        except (ApiError, TransportError) as error:  # Elasticsearch went away: the lease expires by itself
            log.warning("could not release the lock in %s (%s): it expires within %s", name, error, LEASE)


@dataclass
class IndexSummary:
    run_id: str
    index: str
    part_files: int
    outcome: BulkOutcome
    skipped: list[SkippedLine] = field(default_factory=list)
    deleted: int = 0
    pruned: bool = False
    prune_refused: str = ""  # why the earlier runs' documents were kept

    def to_dict(self) -> dict:
        o = self.outcome
        return {
            "run_id": self.run_id,
            "index": self.index,
            "part_files": self.part_files,
            "created": o.created,
            "updated": o.updated,
            "failed": o.failed,
            "skipped_lines": len(self.skipped),
            "deleted": self.deleted,
            "pruned": self.pruned,
            "prune_refused": self.prune_refused,
        }

    def lines(self) -> list[str]:
        o = self.outcome
        return [
            f"run {self.run_id} -> index {self.index} ({self.part_files} part file(s))",
            f"  indexed (created): {o.created}",
            f"  updated:           {o.updated}",
            f"  failed:            {o.failed}",
            f"  skipped lines:     {len(self.skipped)}",
            f"  stale deleted:     {self.deleted}"
            + ("" if self.pruned else f" (pruning skipped: {self.prune_refused or 'disabled'})"),
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


def run_input(s3: S3Client, settings: IndexerSettings, run_id: str | None) -> RunInput | None:
    if run_id is None:
        return None
    try:
        return read_run_input(s3, settings.s3.bucket, settings.output_prefix, run_id)
    except ContractError as error:
        log.warning("run %s: unreadable description (%s)", run_id, error)
        return None


def index_run(settings: IndexerSettings, s3: S3Client, es: Elasticsearch, now: datetime) -> IndexSummary:
    with indexer_lock(es, settings.es.index) as keeper:
        return _index_run(settings, s3, es, now, keeper.lost)


def _index_run(settings: IndexerSettings, s3: S3Client, es: Elasticsearch, now: datetime, lock_lost) -> IndexSummary:
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
    previous = None
    if first is not None:
        # one job run covers one interval: its first line tells which
        newer = newest_indexed_run(es, index, [first.interval.value])
        previous = newer
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
        # Reading S3, parsing, building documents and writing them as JSON run in a thread
        # of their own, ahead of the bulk requests, so neither waits for the other.
        outcome = bulk_index(
            es,
            ReadAhead(encoded_actions(stream, index, run_id, now), depth=4 * settings.chunk_size),
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
        return summary
    if not intervals:
        summary.prune_refused = "the run has no aggregates: nothing tells which interval to prune"
    elif lock_lost.is_set():
        summary.prune_refused = "the indexer's lock was lost: another indexer may be at work"
    else:
        summary.prune_refused = prune_refusal(
            run_input(s3, settings, run_id),
            run_input(s3, settings, previous),
            len(skipped),
            outcome.failed,
            settings.prune_min_input_ratio,
        )
    if summary.prune_refused:
        log.warning("earlier runs' documents are kept (not pruned): %s", summary.prune_refused)
        return summary
    summary.deleted = prune_stale(es, index, sorted(intervals), run_id)
    summary.pruned = True
    return summary
