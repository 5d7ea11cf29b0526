"""Runs of the aggregation job in S3, shared by the job's CLI (writer) and the indexer
(reader): s3://<bucket>/mapreduce-output/<run-id>/part-* and a `_SUCCESS` marker
written last, so a run without the marker is incomplete and never indexed.

Run ids are UTC timestamps (`20261128T120000Z`, optionally `-<suffix>`), so the
newest run is the greatest id.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Iterator

from .contracts import ContractError

SUCCESS_MARKER = "_SUCCESS"
_RUN_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z(-[A-Za-z0-9_.]{1,40})?$")


def new_run_id(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise ContractError(
            f"run id must look like 20261128T120000Z (optionally -suffix), got {run_id!r}"
        )
    return run_id


def check_prefix(prefix: str) -> str:
    """An S3 key prefix naming a folder: non-empty, relative, ending in '/'."""
    if not prefix or prefix.startswith("/") or not prefix.endswith("/") or ".." in prefix:
        raise ContractError(f"prefix must be a relative folder ending in '/', got {prefix!r}")
    return prefix


def run_prefix(output_prefix: str, run_id: str) -> str:
    return f"{check_prefix(output_prefix)}{check_run_id(run_id)}/"


def is_part_key(key: str) -> bool:
    return key.rsplit("/", 1)[-1].startswith("part-")


def list_keys(s3, bucket: str, prefix: str) -> Iterator[str]:
    """Every key under `prefix` (all pages), skipping zero-byte folder markers."""
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if not item["Key"].endswith("/"):
                yield item["Key"]


def run_ids(s3, bucket: str, output_prefix: str) -> list[str]:
    """Run ids found under `output_prefix`, oldest first (complete or not)."""
    found = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=output_prefix, Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            name = common["Prefix"][len(output_prefix):].rstrip("/")
            if _RUN_ID.match(name):
                found.append(name)
    return sorted(found)


def is_complete(s3, bucket: str, output_prefix: str, run_id: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=run_prefix(output_prefix, run_id) + SUCCESS_MARKER)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True


def newest_complete_run(s3, bucket: str, output_prefix: str) -> str | None:
    for run_id in reversed(run_ids(s3, bucket, output_prefix)):
        if is_complete(s3, bucket, output_prefix, run_id):
            return run_id
    return None
