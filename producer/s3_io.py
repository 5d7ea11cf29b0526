"""S3 adapter: images/<image_id>.jpg objects, with what backfill needs kept as object metadata.

Transient failures (5xx, throttling, dropped connections) are retried with backoff by
botocore itself (`pipeline_common.clients.s3_client`: standard mode, 8 attempts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, unquote

from botocore.exceptions import ClientError

from pipeline_common.s3 import UNREACHABLE, S3Client, S3Failure, classify, error_code
from pipeline_common.timestamps import parse_iso, to_iso, utc_now


class StoreUnavailable(Exception):
    """S3 cannot be reached, or refuses us: nothing more can be uploaded this run."""


class BucketProblem(StoreUnavailable):
    """The bucket is missing or the credentials are refused: a configuration error."""


@dataclass(frozen=True)
class StoredImage:
    size: int
    last_modified: datetime
    metadata: dict[str, str]


def check_bucket(s3: S3Client, bucket: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as error:
        failure = classify(error)
        if failure in (S3Failure.NOT_FOUND, S3Failure.NO_BUCKET):
            raise BucketProblem(f"bucket {bucket!r} does not exist (is `make up` done? is S3_BUCKET right?)") from None
        if failure is S3Failure.DENIED:
            raise BucketProblem(
                f"S3 refused access to bucket {bucket!r} ({error_code(error)}): check S3_ACCESS_KEY/S3_SECRET_KEY"
            ) from None
        raise StoreUnavailable(f"S3 error on bucket {bucket!r}: {error}") from None
    except UNREACHABLE as error:
        # after botocore's own retries the store is down: stop the batch rather than
        # fail every remaining frame one by one
        raise StoreUnavailable(f"S3 unreachable: {error}") from None


def stat(s3: S3Client, bucket: str, key: str) -> StoredImage | None:
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if classify(error) is S3Failure.NOT_FOUND:
            return None
        raise
    return StoredImage(
        size=int(head["ContentLength"]),
        last_modified=head["LastModified"],
        metadata=dict(head.get("Metadata", {})),
    )


def upload_image(s3: S3Client, bucket: str, key: str, jpeg: bytes, metadata: dict[str, str]) -> tuple[bool, datetime]:
    """(True, now) after an upload; (False, its time) when the same-sized object is there."""
    existing = stat(s3, bucket, key)
    if existing is not None and existing.size == len(jpeg):
        return False, existing.last_modified
    s3.put_object(Bucket=bucket, Key=key, Body=jpeg, ContentType="image/jpeg", Metadata=metadata)
    return True, utc_now()


def object_metadata(source: str, captured_at: datetime, width: int, height: int) -> dict[str, str]:
    # S3 user metadata travels as HTTP headers: ASCII only, hence the quoting
    return {
        "source": quote(source, safe=""),
        "captured-at": to_iso(captured_at),
        "width": str(width),
        "height": str(height),
    }


def read_object_metadata(metadata: dict[str, str]) -> tuple[str, datetime, int, int] | None:
    """The values `object_metadata` stored, or None when the object was not ours."""
    try:
        return (
            unquote(metadata["source"]),
            parse_iso(metadata["captured-at"]),
            int(metadata["width"]),
            int(metadata["height"]),
        )
    except (KeyError, ValueError):
        return None
