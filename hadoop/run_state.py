"""The S3 side of incremental runs: finding the run to build on, writing a run's ledger
and state. The decisions are in `increments.py`."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from botocore.exceptions import ClientError

from pipeline_common.contracts import ContractError
from pipeline_common.output_runs import SUCCESS_MARKER, check_run_id, run_prefix
from pipeline_common.s3 import S3Client, S3Failure, classify, list_keys

from .archive import IMAGES_NAME, decode_images
from .increments import LEDGER_NAME, STATE_NAME, RunState, base_problem, decode_ledger, encode_ledger

log = logging.getLogger(__name__)

# How many of the newest runs are tried as a base before giving up (a full recount).
BASE_SEARCH_DEPTH = 20


@dataclass
class Base:
    state: RunState | None
    counted: dict[str, str] | None
    reason: str = ""  # why there is none


def _missing(error: ClientError) -> bool:
    return classify(error) is S3Failure.NOT_FOUND


def complete_runs(s3: S3Client, bucket: str, output_prefix: str) -> list[str]:
    """Run ids with a `_SUCCESS` marker, oldest first, from one listing of the runs' files
    (old runs are removed, so it stays short; and a server that keeps empty folders, as
    SeaweedFS does, costs nothing extra)."""
    found = []
    for key in list_keys(s3, bucket, output_prefix):
        run_id, _, name = key[len(output_prefix) :].partition("/")
        if name == SUCCESS_MARKER:
            try:
                found.append(check_run_id(run_id))
            except ContractError:
                continue
    return sorted(found)


def read_state(s3: S3Client, bucket: str, output_prefix: str, run_id: str) -> RunState | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=run_prefix(output_prefix, run_id) + STATE_NAME)["Body"].read()
    except ClientError as error:
        if _missing(error):
            return None
        raise
    return RunState.from_json(body)


def find_base(
    s3: S3Client,
    bucket: str,
    output_prefix: str,
    run_id: str,
    interval: str,
    input_prefix: str,
    source: str = "metadata",
) -> Base:
    """The newest complete run (other than `run_id`) whose ledger this run can build on."""
    reasons = []
    candidates = [r for r in reversed(complete_runs(s3, bucket, output_prefix)) if r != run_id]
    for candidate in candidates[:BASE_SEARCH_DEPTH]:
        try:
            state = read_state(s3, bucket, output_prefix, candidate)
        except ContractError as error:
            reasons.append(f"run {candidate}: unreadable {STATE_NAME} ({error})")
            continue
        if state is None:
            reasons.append(f"run {candidate} has no {STATE_NAME}")
            continue
        problem = base_problem(state, interval, input_prefix, source)
        if problem:
            reasons.append(problem)
            continue
        key = run_prefix(output_prefix, candidate) + LEDGER_NAME
        try:
            counted = decode_ledger(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except ClientError as error:
            if not _missing(error):
                raise
            reasons.append(f"run {candidate} has no {LEDGER_NAME}")
            continue
        if len(counted) != state.objects:
            reasons.append(f"run {candidate}: ledger holds {len(counted)} objects, its state says {state.objects}")
            continue
        return Base(state, counted)
    if not candidates:
        return Base(None, None, "no earlier complete run")
    return Base(None, None, "no earlier run to build on: " + "; ".join(reasons[:3]))


def read_images(s3: S3Client, bucket: str, output_prefix: str, run_id: str) -> set[str]:
    """The image ids an archive run counted (hadoop/archive.py)."""
    key = run_prefix(output_prefix, run_id) + IMAGES_NAME
    return decode_images(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def write_state(
    s3: S3Client,
    bucket: str,
    output_prefix: str,
    state: RunState,
    listed: list[tuple[str, str]],
    images: bytes | None = None,
) -> None:
    """The ledger (and an archive run's image ids) first, then the state that vouches for
    them: a run whose state exists has its whole ledger."""
    prefix = run_prefix(output_prefix, state.run_id)
    s3.put_object(Bucket=bucket, Key=prefix + LEDGER_NAME, Body=encode_ledger(listed), ContentType="application/gzip")
    if images is not None:
        s3.put_object(Bucket=bucket, Key=prefix + IMAGES_NAME, Body=images, ContentType="application/gzip")
    s3.put_object(Bucket=bucket, Key=prefix + STATE_NAME, Body=state.to_json(), ContentType="application/json")
