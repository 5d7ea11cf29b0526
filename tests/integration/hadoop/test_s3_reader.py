"""pipeline_common.s3_reader, the job's lean GET client, against the real S3 server."""

import pytest

from pipeline_common.s3 import delete_prefix
from pipeline_common.s3_reader import ObjectNotFound, S3ObjectReader, S3ReadError


@pytest.fixture
def prefix(s3, s3_settings, unique_name):
    prefix = f"{unique_name('it-s3-reader')}/"
    yield prefix
    delete_prefix(s3, s3_settings.bucket, prefix)


@pytest.mark.parametrize("name", ["plain.json", "with space+plus.json", "ünïcode/ключ.json", "a=b&c?.json"])
def test_reads_what_boto3_wrote(s3, s3_settings, prefix, name):
    body = f'{{"name": "{name}"}}'.encode() * 50
    s3.put_object(Bucket=s3_settings.bucket, Key=prefix + name, Body=body)
    reader = S3ObjectReader(s3_settings)
    assert reader.get(s3_settings.bucket, prefix + name) == body
    assert reader.get(s3_settings.bucket, prefix + name) == body  # same kept connection


def test_a_missing_key_is_object_not_found(s3_settings, prefix):
    with pytest.raises(ObjectNotFound, match="does not exist"):
        S3ObjectReader(s3_settings).get(s3_settings.bucket, prefix + "absent.json")


def test_a_wrong_secret_is_refused_without_retrying(s3, s3_settings, prefix):
    s3.put_object(Bucket=s3_settings.bucket, Key=prefix + "x.json", Body=b"{}")
    reader = S3ObjectReader(s3_settings.replace(secret_key="not-the-secret"), attempts=3)
    with pytest.raises(S3ReadError, match="HTTP 403"):
        reader.get(s3_settings.bucket, prefix + "x.json")


def test_an_unreachable_server_fails_after_the_retries(s3_settings):
    reader = S3ObjectReader(s3_settings.replace(endpoint_url="http://127.0.0.1:9"), attempts=2, timeout=2)
    with pytest.raises(S3ReadError, match="ConnectionRefusedError"):
        reader.get(s3_settings.bucket, "any.json")
