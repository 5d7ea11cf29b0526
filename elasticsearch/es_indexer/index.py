"""Elasticsearch side of the indexer: the index, bulk writes, and removing documents
that a newer run no longer has. Every function takes its client."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from elasticsearch import ApiError, BadRequestError, Elasticsearch
from elasticsearch.helpers import expand_action, scan, streaming_bulk

from .documents import INDEX_BODY, mapping_problems

log = logging.getLogger(__name__)

# 429: the node is busy; 5xx: a shard or the node failed for the moment.
RETRY_ON_STATUS = (429, 500, 502, 503, 504)


# What is read of a bulk answer (per document: status, result, error and id for the report;
# a whole request's error): Elasticsearch leaves out the rest (index name, version, shards,
# sequence numbers), about half of every answer, which is then neither sent nor parsed.
BULK_ANSWER_FIELDS = ["items.*._id", "items.*.status", "items.*.result", "items.*.error", "error", "status"]


class IndexMappingError(RuntimeError):
    """The index exists with a mapping the indexer cannot write to."""


@dataclass
class BulkOutcome:
    created: int = 0
    updated: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)  # "<_id>: <status> <reason>"


def ensure_index(es: Elasticsearch, index: str) -> bool:
    """Create the index with its explicit mapping if missing; True if created.
    An existing index must map the indexer's fields with the same types."""
    if es.indices.exists(index=index):
        mappings = es.indices.get_mapping(index=index)
        # an alias resolves to its concrete index: one entry, whatever its name
        properties = next(iter(mappings.body.values()))["mappings"].get("properties", {})
        problems = mapping_problems(properties)
        if problems:
            raise IndexMappingError(f"index {index!r} has an incompatible mapping: " + "; ".join(problems))
        return False
    try:
        es.indices.create(index=index, **INDEX_BODY)
    except BadRequestError as error:
        if error.error != "resource_already_exists_exception":
            raise
        return ensure_index(es, index)  # created meanwhile by another indexer
    log.info("created index %s", index)
    return True


def _describe_failure(item: dict[str, Any]) -> str:
    error = item.get("error")
    if isinstance(error, dict):
        error = f"{error.get('type')}: {error.get('reason')}"
    return f"{item.get('_id')}: status {item.get('status')} {error}"


def bulk_index(
    es: Elasticsearch,
    actions: Iterable[dict[str, Any]],
    *,
    chunk_size: int = 500,
    max_retries: int = 5,
    initial_backoff: float = 1.0,
    max_backoff: float = 30.0,
    progress=None,
) -> BulkOutcome:
    """Index `actions` (dicts, or the pairs `documents.encoded` makes), retrying 429/5xx with
    exponential backoff; failures are collected document by document instead of stopping the run."""
    outcome = BulkOutcome()
    for ok, result in streaming_bulk(
        es,
        actions,
        expand_action_callback=_expanded,
        chunk_size=chunk_size,
        max_retries=max_retries,
        initial_backoff=initial_backoff,
        max_backoff=max_backoff,
        retry_on_status=RETRY_ON_STATUS,
        raise_on_error=False,
        raise_on_exception=False,
        filter_path=BULK_ANSWER_FIELDS,
    ):
        _, item = result.popitem()
        if not ok:
            outcome.failed += 1
            outcome.failures.append(_describe_failure(item))
            log.error("document %s", outcome.failures[-1])
        elif item.get("result") == "created":
            outcome.created += 1
        else:
            outcome.updated += 1
        if progress is not None:
            progress.update(1)
    return outcome


def _expanded(action: dict[str, Any] | tuple[dict[str, Any], bytes]) -> tuple[dict[str, Any], Any]:
    """(action line, source): pairs made ahead pass as they are, dicts are expanded by the helper."""
    return action if type(action) is tuple else expand_action(action)


def newest_indexed_run(es: Elasticsearch, index: str, intervals: list[str]) -> str | None:
    """The greatest run_id already indexed for these intervals."""
    response = es.search(
        index=index,
        size=0,
        query={"terms": {"interval": intervals}},
        aggs={"runs": {"terms": {"field": "run_id", "size": 1, "order": {"_key": "desc"}}}},
    )
    buckets = response["aggregations"]["runs"]["buckets"]
    return buckets[0]["key"] if buckets else None


def _stale_query(intervals: list[str], run_id: str) -> dict[str, Any]:
    return {
        "bool": {
            "filter": [{"terms": {"interval": intervals}}],
            "must_not": [{"term": {"run_id": run_id}}],
        }
    }


def _delete_actions(es: Elasticsearch, index: str, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
    # seq_no/primary_term: a document rewritten since the search is left alone
    for hit in scan(es, index=index, query={"query": query}, _source=False, seq_no_primary_term=True, size=1000):
        yield {
            "_op_type": "delete",
            "_index": hit["_index"],
            "_id": hit["_id"],
            "if_seq_no": hit["_seq_no"],
            "if_primary_term": hit["_primary_term"],
        }


def prune_stale(es: Elasticsearch, index: str, intervals: list[str], run_id: str) -> int:
    """Delete documents of `intervals` written by any other run: buckets the newer
    run no longer has. Call after the run's own documents are indexed and refreshed.

    Uses delete_by_query where the cluster has the reindex module; the integ-test
    distribution lacks it, so otherwise a scroll and bulk deletes do the same."""
    query = _stale_query(intervals, run_id)
    try:
        response = es.delete_by_query(index=index, query=query, conflicts="proceed", refresh=True)
        return int(response["deleted"])
    except ApiError as error:
        if not _endpoint_missing(error):
            raise
        log.info("delete_by_query unavailable on this cluster (%s); deleting by scroll", error.status_code)
    deleted = 0
    for ok, result in streaming_bulk(
        es, _delete_actions(es, index, query), raise_on_error=False, max_retries=5, retry_on_status=RETRY_ON_STATUS
    ):
        _, item = result.popitem()
        if ok:
            deleted += 1
        elif item.get("status") not in (404, 409):  # gone or rewritten meanwhile: fine
            raise RuntimeError(f"could not delete stale document {_describe_failure(item)}")
    es.indices.refresh(index=index)
    return deleted


def _endpoint_missing(error: ApiError) -> bool:
    """Elasticsearch answers a request to an endpoint no module provides with
    400 "no handler found for uri [...]" (405 on some versions)."""
    return error.status_code in (400, 404, 405) and "no handler found" in str(error).lower()
