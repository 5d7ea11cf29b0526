"""S3 adapter: fetch an image, write a metadata record, and classify S3 failures into
Rejected (this message's fault), TransientError (retry) or FatalError (our setup)."""
from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError as BotoConnectionError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    ResponseStreamingError,
)

from pipeline_common.contracts import MetadataRecord, metadata_key

from .errors import FatalError, Rejected, Stage, TransientError

THROTTLING_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "ServiceUnavailable",
    "InternalError",
    "TooManyRequests",
}
MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
SETUP_CODES = {
    "NoSuchBucket",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "RequestTimeTooSkewed",
}


def classify(error: Exception, stage: Stage, uri: str) -> Exception:
    """The consumer's reading of an S3 client exception."""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in THROTTLING_CODES or status >= 500 or status == 429:
            return TransientError(f"S3 {code or status} for {uri}")
        if stage is Stage.DOWNLOAD and code == "InvalidObjectState":
            return Rejected(stage, f"{uri} is archived and cannot be read ({code})")
        if code in SETUP_CODES or status == 403:
            return FatalError(f"S3 refused {uri} ({code or status}): check S3 credentials and bucket")
        if stage is Stage.DOWNLOAD and (code in MISSING_CODES or status == 404):
            return Rejected(stage, f"object does not exist: {uri}")
        if stage is Stage.DOWNLOAD:
            return Rejected(stage, f"S3 cannot serve {uri}: {code or status} {error}")
        return FatalError(f"S3 refused to write {uri}: {code or status} {error}")
    if isinstance(error, NoCredentialsError):
        return FatalError(f"no S3 credentials: {error}")
    if isinstance(
        error,
        (BotoConnectionError, HTTPClientError, IncompleteReadError, ResponseStreamingError, ConnectionError, TimeoutError),
    ):
        return TransientError(f"S3 unreachable for {uri}: {error}")
    if isinstance(error, BotoCoreError):
        return TransientError(f"S3 client error for {uri}: {error}")
    return error


def download(s3, bucket: str, key: str, max_bytes: int) -> bytes:
    uri = f"s3://{bucket}/{key}"
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
        length = int(response.get("ContentLength", 0))
        body = response["Body"]
        if length > max_bytes:
            body.close()
            raise Rejected(
                Stage.DOWNLOAD,
                f"{uri} is {length} bytes, over the limit of {max_bytes} (CONSUMER_MAX_IMAGE_BYTES)",
            )
        data = body.read()
    except (ClientError, BotoCoreError, ConnectionError, TimeoutError) as error:
        raise classify(error, Stage.DOWNLOAD, uri) from error
    if len(data) != length:
        raise TransientError(f"{uri}: read {len(data)} of {length} bytes")
    return data


def write_metadata(s3, bucket: str, record: MetadataRecord) -> str:
    """Write the record to its deterministic key; a second run overwrites it."""
    key = metadata_key(record.image_id)
    uri = f"s3://{bucket}/{key}"
    try:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=record.to_json_bytes(),
            ContentType="application/json",
        )
    except (ClientError, BotoCoreError, ConnectionError, TimeoutError) as error:
        raise classify(error, Stage.WRITE, uri) from error
    return uri
