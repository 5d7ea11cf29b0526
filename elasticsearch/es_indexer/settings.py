"""The indexer's settings: built once in `main` from the environment and the command
line (the command line wins)."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Mapping

from pipeline_common.contracts import OUTPUT_PREFIX, ContractError
from pipeline_common.environment import SettingsError, number
from pipeline_common.output_runs import check_prefix, check_run_id
from pipeline_common.settings import ElasticsearchSettings, S3Settings

# Elasticsearch's own rules, narrowed: lowercase, no wildcards, separators or leading '-_+'
_INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,254}$")


def check_index_name(name: str) -> str:
    if not _INDEX_NAME.match(name or "") or name in {".", ".."}:
        raise SettingsError(
            f"index name must be lowercase letters, digits, '.', '_' or '-' "
            f"(not first), got {name!r}"
        )
    return name


@dataclass(frozen=True)
class IndexerSettings:
    s3: S3Settings
    es: ElasticsearchSettings
    output_prefix: str = OUTPUT_PREFIX
    run_id: str | None = None  # None: the newest complete run
    chunk_size: int = 500
    max_retries: int = 5
    initial_backoff: float = 1.0
    max_backoff: float = 30.0
    prune: bool = True  # delete buckets a newer run no longer has
    allow_older: bool = False  # index a run older than one already indexed

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides) -> "IndexerSettings":
        """`overrides` are command-line values; None means "not given"."""
        given = {k: v for k, v in overrides.items() if v is not None}
        es = ElasticsearchSettings.from_env(env, account="INDEXER")
        if "index" in given:
            es = replace(es, index=given["index"])
        check_index_name(es.index)
        try:
            output_prefix = check_prefix(
                given.get("output_prefix") or env.get("AGGREGATION_OUTPUT_PREFIX", "").strip() or OUTPUT_PREFIX
            )
            run_id = check_run_id(given["run_id"]) if "run_id" in given else None
        except ContractError as error:
            raise SettingsError(str(error)) from None
        # `in`, not `or`: a 0 given on the command line is refused below, not replaced
        chunk_size = given["chunk_size"] if "chunk_size" in given else number(env, "INDEXER_CHUNK_SIZE", 500, int)
        max_retries = number(env, "INDEXER_MAX_RETRIES", 5, int)
        initial_backoff = number(env, "INDEXER_INITIAL_BACKOFF", 1.0, float)
        if chunk_size < 1 or max_retries < 0 or initial_backoff <= 0:
            raise SettingsError("chunk size must be >= 1, retries >= 0 and the backoff > 0")
        return cls(
            s3=S3Settings.from_env(env),
            es=es,
            output_prefix=output_prefix,
            run_id=run_id,
            chunk_size=chunk_size,
            max_retries=max_retries,
            initial_backoff=initial_backoff,
            prune=given.get("prune", True),
            allow_older=given.get("allow_older", False),
        )
