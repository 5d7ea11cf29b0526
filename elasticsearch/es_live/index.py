"""Elasticsearch side of the live indexer: the index template, bulk writes sorted into
acknowledged / rejected for good / worth retrying, and dropping aged-out indices.
Every function takes its client."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch
from elasticsearch.helpers import streaming_bulk

from pipeline_common.contracts import live_index

from .documents import expired_indices

log = logging.getLogger(__name__)

# 429: the node is busy; 5xx: a shard or the node failed for the moment.
RETRY_ON_STATUS = (429, 500, 502, 503, 504)
# The cluster refuses this indexer's credentials or rights: no retry can help.
REFUSED_STATUS = (401, 403)


class Refused(RuntimeError):
    """Elasticsearch refused the indexer's credentials or rights."""


def template_name(prefix: str) -> str:
    return prefix.rstrip("-_.") or "live"


def ensure_template(es: Elasticsearch, prefix: str) -> None:
    """Create or update the index template every new live index gets its mapping from."""
    try:
        es.indices.put_index_template(
            name=template_name(prefix),
            index_patterns=[live_index.index_pattern(prefix)],
            # above the built-in templates (100), so ours decides for these names
            priority=200,
            template={"settings": live_index.SETTINGS, "mappings": live_index.MAPPINGS},
            meta={"description": "object-count live indices, one document per image (es_live)"},
        )
    except ApiError as error:
        if error.status_code in REFUSED_STATUS:
            raise Refused(f"Elasticsearch refused to create index template {template_name(prefix)}: {error}") from None
        raise
    add_new_fields(es, prefix)


def add_new_fields(es: Elasticsearch, prefix: str) -> list[str]:
    """Give the live indices made before a field was added (live_index.ADDED_PROPERTIES)
    that field, so their strict mapping accepts today's documents; the names of the
    indices changed. Indices that have every field are left alone (no write at all)."""
    found = es.indices.get_mapping(
        index=live_index.index_pattern(prefix), allow_no_indices=True, ignore_unavailable=True
    )
    changed = []
    for name, body in sorted(getattr(found, "body", found).items()):
        if live_index.index_day(prefix, name) is None:
            continue
        properties = body.get("mappings", {}).get("properties", {})
        missing = {field: spec for field, spec in live_index.ADDED_PROPERTIES.items() if field not in properties}
        if not missing:
            continue
        try:
            es.indices.put_mapping(index=name, properties=missing)
        except ApiError as error:
            if error.status_code in REFUSED_STATUS:
                raise Refused(
                    f"Elasticsearch refused to add {', '.join(missing)} to {name}'s mapping: {error}"
                ) from None
            raise
        log.info("added %s to the mapping of %s (made by an older live indexer)", ", ".join(missing), name)
        changed.append(name)
    return changed


@dataclass
class BulkOutcome:
    acknowledged: list[tuple[str, str]] = field(default_factory=list)  # (index, id)
    rejected: list[tuple[tuple[str, str], str]] = field(default_factory=list)  # never indexable
    retry: list[tuple[tuple[str, str], str]] = field(default_factory=list)  # try again later
    created: int = 0


def _reason(item: dict[str, Any]) -> str:
    error = item.get("error")
    if isinstance(error, dict):
        error = f"{error.get('type')}: {error.get('reason')}"
    return f"status {item.get('status')} {error}"


def write(
    es: Elasticsearch, actions: Iterable[dict[str, Any]], *, max_retries: int = 3, initial_backoff: float = 0.5
) -> BulkOutcome:
    """One pass of bulk writes. 429s are retried inside (the client's helper); what
    still fails with 429/5xx, or a lost connection, comes back in `retry`; any other
    4xx (a document the mapping refuses) in `rejected`. Raises Refused on 401/403."""
    outcome = BulkOutcome()
    actions = list(actions)
    try:
        for ok, result in streaming_bulk(
            es,
            actions,
            chunk_size=len(actions) or 1,
            max_retries=max_retries,
            initial_backoff=initial_backoff,
            retry_on_status=RETRY_ON_STATUS,
            raise_on_error=False,
            raise_on_exception=False,
        ):
            _, item = result.popitem()
            key = (item.get("_index"), item.get("_id"))
            status = int(item.get("status") or 0)
            if ok:
                outcome.acknowledged.append(key)
                outcome.created += item.get("result") == "created"
            elif status in REFUSED_STATUS:
                raise Refused(f"Elasticsearch refused the bulk write: {_reason(item)}")
            elif status in RETRY_ON_STATUS or status == 0:
                outcome.retry.append((key, _reason(item)))
            else:
                outcome.rejected.append((key, _reason(item)))
    except TransportError as error:  # connection refused, timeout: nothing is known to be written
        done = set(outcome.acknowledged) | {key for key, _ in outcome.rejected}
        outcome.retry = [
            ((a["_index"], a["_id"]), f"{type(error).__name__}: {error}")
            for a in actions
            if (a["_index"], a["_id"]) not in done
        ]
    return outcome


def live_index_names(es: Elasticsearch, prefix: str) -> list[str]:
    found = es.indices.get(
        index=live_index.index_pattern(prefix),
        allow_no_indices=True,
        expand_wildcards="open,closed",
        ignore_unavailable=True,
    )
    return sorted(getattr(found, "body", found))


def drop_expired(es: Elasticsearch, prefix: str, today: date, retention_days: int) -> list[str]:
    """Delete the live indices of capture days older than the retention window."""
    dropped = []
    for name in expired_indices(live_index_names(es, prefix), prefix, today, retention_days):
        es.indices.delete(index=name, ignore_unavailable=True)
        log.info("dropped live index %s (older than %d day(s), LIVE_RETENTION_DAYS)", name, retention_days)
        dropped.append(name)
    return dropped
