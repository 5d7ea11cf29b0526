"""The indexer's settings: built once in `main` from the environment and the command
line (the command line wins)."""

from __future__ import annotations

from pydantic import Field

from pipeline_common.contracts import OUTPUT_PREFIX
from pipeline_common.environment import Settings
from pipeline_common.settings import IndexerElasticsearchSettings, OutputPrefix, RunId, S3Settings


class IndexerSettings(Settings):
    s3: S3Settings
    es: IndexerElasticsearchSettings  # its own account; its index (ES_INDEX) is the one written
    output_prefix: OutputPrefix = OUTPUT_PREFIX
    run_id: RunId | None = None  # command line only; None: the newest complete run
    chunk_size: int = Field(500, alias="INDEXER_CHUNK_SIZE", ge=1, description="Documents per bulk request.")
    max_retries: int = Field(
        5, alias="INDEXER_MAX_RETRIES", ge=0, description="Retries of documents rejected with 429/5xx."
    )
    initial_backoff: float = Field(
        1.0,
        alias="INDEXER_INITIAL_BACKOFF",
        gt=0,
        description="First wait before such a retry, in seconds (doubling each time).",
    )
    max_backoff: float = 30.0  # longest wait between retries
    prune: bool = True  # command line only: delete buckets a newer run no longer has
    prune_min_input_ratio: float = Field(
        0.5,
        alias="INDEXER_PRUNE_MIN_INPUT_RATIO",
        ge=0,
        le=1,
        description="Buckets a run no longer has are deleted only if it covered at least this fraction of the "
        "input objects of the run indexed before (a wrong prefix or expired objects must not erase history); "
        "0: no such check.",
    )
    allow_older: bool = False  # command line only: index a run older than one already indexed
