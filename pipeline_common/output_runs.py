"""Runs of the aggregation job in S3, shared by the job's CLI (writer) and the indexer
(reader): s3://<bucket>/mapreduce-output/<run-id>/part-* and a `_SUCCESS` marker
written last, so a run without the marker is incomplete and never indexed.

Run ids are UTC timestamps (`20261128T120000Z`, optionally `-<suffix>`), so the
newest run is the greatest id.

Beside its parts, a run describes itself in `_run.json` (written by the aggregation,
before `_SUCCESS`): among other things how many input objects it covered and how many
records it had to skip. The indexer reads those (`RunInput`) before it deletes anything.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from .contracts import ContractError
from .s3 import S3Client, S3Failure, classify, list_folders

SUCCESS_MARKER = "_SUCCESS"
RUN_STATE_NAME = "_run.json"
_RUN_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z(-[A-Za-z0-9_.]{1,40})?$")


def new_run_id(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise ContractError(f"run id must look like 20261128T120000Z (optionally -suffix), got {run_id!r}")
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


def run_ids(s3: S3Client, bucket: str, output_prefix: str) -> list[str]:
    """Run ids found under `output_prefix`, oldest first (complete or not)."""
    return sorted(name for name in list_folders(s3, bucket, output_prefix) if _RUN_ID.match(name))


def is_complete(s3: S3Client, bucket: str, output_prefix: str, run_id: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=run_prefix(output_prefix, run_id) + SUCCESS_MARKER)
    except ClientError as error:
        if classify(error) is S3Failure.NOT_FOUND:
            return False
        raise
    return True


def newest_complete_run(s3: S3Client, bucket: str, output_prefix: str) -> str | None:
    for run_id in reversed(run_ids(s3, bucket, output_prefix)):
        if is_complete(s3, bucket, output_prefix, run_id):
            return run_id
    return None


@dataclass(frozen=True)
class RunInput:
    """What a run's `_run.json` says of its input: `objects` metadata objects counted (the
    whole input, read now or by the run it built on) and `bad_records` of them skipped as
    malformed (by it and the runs it built on); None when the run does not say."""

    run_id: str
    objects: int | None
    bad_records: int | None
    input_prefix: str | None = None


def _count(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def read_run_input(s3: S3Client, bucket: str, output_prefix: str, run_id: str) -> RunInput | None:
    """The run's `RunInput`, or None when it has no `_run.json`. Raises ContractError when
    the file is not what the aggregation writes."""
    from botocore.exceptions import ClientError

    key = run_prefix(output_prefix, run_id) + RUN_STATE_NAME
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if classify(error) is S3Failure.NOT_FOUND:
            return None
        raise
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise ContractError(f"{key}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise ContractError(f"{key}: expected a JSON object, got {type(data).__name__}")
    prefix = data.get("input_prefix")
    return RunInput(
        run_id,
        _count(data.get("objects")),
        _count(data.get("bad_records_total")),
        prefix if isinstance(prefix, str) else None,
    )
