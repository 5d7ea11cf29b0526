"""S3 as every stage sees it: what a failed call means, and listing keys (with their ETags).

`classify(error)` sorts whatever an S3 call raised into one of a few kinds, so each
stage decides per kind whether it retries, dead-letters or stops, and no stage spells
out S3's error codes itself:

  NOT_FOUND  the key does not exist (HEAD answers a bare 404, also for a missing bucket)
  NO_BUCKET  the bucket does not exist (NoSuchBucket)
  DENIED     credentials or rights refused (403, bad or expired keys, clock skew, none at all)
  TRANSIENT  worth retrying: throttling, 5xx, 429, dropped or refused connections
  OTHER      anything else: a request S3 calls bad, or an exception that is not S3's
"""

from __future__ import annotations

import enum
from typing import Iterator, Protocol

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError as BotoConnectionError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    ResponseStreamingError,
)


class S3Failure(enum.Enum):
    NOT_FOUND = "not found"
    NO_BUCKET = "no such bucket"
    DENIED = "denied"
    TRANSIENT = "transient"
    OTHER = "other"


NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
NO_BUCKET_CODES = frozenset({"NoSuchBucket"})
DENIED_CODES = frozenset(
    {
        "403",
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "RequestTimeTooSkewed",
    }
)
TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "ServiceUnavailable",
        "InternalError",
        "TooManyRequests",
    }
)
# After botocore's own retries (clients.s3_client): no connection could be made or kept ...
UNREACHABLE = (BotoConnectionError,)
# ... or one broke in the middle of a transfer.
BROKEN_TRANSFER = (HTTPClientError, IncompleteReadError, ResponseStreamingError, ConnectionError, TimeoutError)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def http_status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def classify(error: BaseException) -> S3Failure:
    if isinstance(error, ClientError):
        code, status = error_code(error), http_status(error)
        if code in TRANSIENT_CODES or status >= 500 or status == 429:
            return S3Failure.TRANSIENT
        if code in NO_BUCKET_CODES:
            return S3Failure.NO_BUCKET
        if code in DENIED_CODES or status == 403:
            return S3Failure.DENIED
        if code in NOT_FOUND_CODES or status == 404:
            return S3Failure.NOT_FOUND
        return S3Failure.OTHER
    if isinstance(error, NoCredentialsError):
        return S3Failure.DENIED
    if isinstance(error, (*UNREACHABLE, *BROKEN_TRANSFER, BotoCoreError)):
        # botocore's own failures (a response it could not read, ...) are worth a retry too
        return S3Failure.TRANSIENT
    return S3Failure.OTHER


class Paginator(Protocol):
    def paginate(self, **kwargs) -> Iterator[dict]: ...


class ListsObjects(Protocol):
    """What listing needs of an S3 client: boto3's, or a test's fake."""

    def get_paginator(self, operation_name: str) -> Paginator: ...


class S3Client(ListsObjects, Protocol):
    """The calls the stages make on boto3's S3 client (`clients.s3_client`); a fake in a
    unit test implements the few its code under test uses."""

    def head_bucket(self, *, Bucket: str) -> dict: ...

    def head_object(self, *, Bucket: str, Key: str) -> dict: ...

    def get_object(self, *, Bucket: str, Key: str) -> dict: ...

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, **options) -> dict: ...

    def delete_objects(self, *, Bucket: str, Delete: dict) -> dict: ...

    def list_objects_v2(self, *, Bucket: str, Prefix: str = "", **options) -> dict: ...


def list_keys(s3: ListsObjects, bucket: str, prefix: str) -> Iterator[str]:
    """Every key under `prefix` (all pages), skipping zero-byte folder markers."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if not item["Key"].endswith("/"):
                yield item["Key"]


def list_range(
    s3: S3Client,
    bucket: str,
    prefix: str,
    start_after: str | None = None,
    end: str | None = None,
    sizes: dict | None = None,
) -> list[tuple[str, str]]:
    """(key, etag) of the keys under `prefix` with start_after < key <= end (either bound
    None: open), in key order, skipping zero-byte folder markers; each one's size goes into
    `sizes` when given. StartAfter is exclusive, so consecutive ranges sharing a boundary
    meet exactly (hadoop/listing.py lists a long prefix as several ranges at once)."""
    found: list[tuple[str, str]] = []
    kwargs = {"Bucket": bucket, "Prefix": prefix}
    if start_after is not None:
        kwargs["StartAfter"] = start_after
    while True:
        page = s3.list_objects_v2(**kwargs)
        for item in page.get("Contents", []):
            key = item["Key"]
            if end is not None and key > end:
                return found
            if not key.endswith("/"):
                found.append((key, item.get("ETag", "").strip('"')))
                if sizes is not None:
                    sizes[key] = item.get("Size", 0)
        if not page.get("IsTruncated"):
            return found
        kwargs.pop("StartAfter", None)
        kwargs["ContinuationToken"] = page["NextContinuationToken"]


def list_folders(s3: ListsObjects, bucket: str, prefix: str) -> Iterator[str]:
    """The names of the folders directly under `prefix` (all pages), without the prefix or '/'."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
    for page in pages:
        for common in page.get("CommonPrefixes", []):
            yield common["Prefix"][len(prefix) :].rstrip("/")


def delete_prefix(s3: S3Client, bucket: str, prefix: str) -> int:
    """Delete every object under `prefix` (1000 per request); returns how many there were."""
    keys = list(list_keys(s3, bucket, prefix))
    for start in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in keys[start : start + 1000]]})
    return len(keys)
