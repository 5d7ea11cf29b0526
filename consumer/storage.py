"""S3 adapter: fetch an image, write a metadata record, and classify S3 failures into
Rejected (this message's fault), TransientError (retry) or FatalError (our setup)."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from pipeline_common.contracts import MetadataRecord, metadata_key
from pipeline_common.s3 import S3Client, S3Failure, classify as classify_failure, error_code, http_status

from .errors import FatalError, Rejected, Stage, TransientError


def classify(error: Exception, stage: Stage, uri: str) -> Exception:
    """The consumer's reading of an S3 client exception (pipeline_common.s3 names its kind)."""
    failure = classify_failure(error)
    if not isinstance(error, ClientError):
        if failure is S3Failure.DENIED:
            return FatalError(f"no S3 credentials: {error}")
        if failure is S3Failure.TRANSIENT:
            return TransientError(f"S3 unreachable or failing for {uri}: {type(error).__name__}: {error}")
        return error
    code = error_code(error) or http_status(error)
    if failure is S3Failure.TRANSIENT:
        return TransientError(f"S3 {code} for {uri}")
    if stage is Stage.DOWNLOAD and code == "InvalidObjectState":
        return Rejected(stage, f"{uri} is archived and cannot be read ({code})")
    if failure in (S3Failure.DENIED, S3Failure.NO_BUCKET):
        return FatalError(f"S3 refused {uri} ({code}): check S3 credentials and bucket")
    if stage is Stage.DOWNLOAD and failure is S3Failure.NOT_FOUND:
        return Rejected(stage, f"object does not exist: {uri}")
    if stage is Stage.DOWNLOAD:
        return Rejected(stage, f"S3 cannot serve {uri}: {code} {error}")
    return FatalError(f"S3 refused to write {uri}: {code} {error}")


def download(s3: S3Client, bucket: str, key: str, max_bytes: int) -> bytes:
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


def write_metadata(s3: S3Client, bucket: str, record: MetadataRecord) -> str:
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
