"""Old runs are removed once newer ones exist: every run holds the full totals and a
ledger of every object counted, so only the newest few are ever read again."""

from __future__ import annotations

import logging

from pipeline_common.output_runs import SUCCESS_MARKER, run_prefix
from pipeline_common.s3 import S3Client, list_keys

from .run_state import complete_runs

log = logging.getLogger(__name__)


def runs_to_remove(complete: list[str], keep: int) -> list[str]:
    """The complete runs (oldest first) beyond the newest `keep`."""
    return complete[:-keep] if keep > 0 and len(complete) > keep else []


def remove_old_runs(s3: S3Client, bucket: str, output_prefix: str, keep: int) -> list[str]:
    """Delete the complete runs older than the newest `keep`. Incomplete runs (running
    now, or failed) are left alone: a person decides what a failed run's files are."""
    removed = runs_to_remove(complete_runs(s3, bucket, output_prefix), keep)
    for run_id in removed:
        prefix = run_prefix(output_prefix, run_id)
        # the marker first: a half-deleted run is incomplete, never read as a run
        s3.delete_object(Bucket=bucket, Key=prefix + SUCCESS_MARKER)
        keys = list(list_keys(s3, bucket, prefix))
        for start in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]]})
        log.info("removed run %s (%s more objects): more than %s newer complete runs", run_id, len(keys), keep)
    return removed
