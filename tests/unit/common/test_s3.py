"""What a failed S3 call means, the same for every stage."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from pipeline_common.s3 import S3Failure, classify, list_folders, list_keys, list_range
from tests.support.fakes import PagedS3


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject"
    )


@pytest.mark.parametrize(
    "code, status, kind",
    [
        ("NoSuchKey", 404, S3Failure.NOT_FOUND),
        ("404", 404, S3Failure.NOT_FOUND),  # HEAD: no body, so no code but the status
        ("", 404, S3Failure.NOT_FOUND),
        ("NoSuchBucket", 404, S3Failure.NO_BUCKET),
        ("AccessDenied", 403, S3Failure.DENIED),
        ("InvalidAccessKeyId", 403, S3Failure.DENIED),
        ("SignatureDoesNotMatch", 403, S3Failure.DENIED),
        ("RequestTimeTooSkewed", 403, S3Failure.DENIED),
        ("SlowDown", 503, S3Failure.TRANSIENT),
        ("InternalError", 500, S3Failure.TRANSIENT),
        ("", 429, S3Failure.TRANSIENT),
        ("InvalidArgument", 400, S3Failure.OTHER),
    ],
)
def test_client_errors(code, status, kind):
    assert classify(client_error(code, status)) is kind


@pytest.mark.parametrize(
    "error, kind",
    [
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), S3Failure.TRANSIENT),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), S3Failure.TRANSIENT),
        (ConnectionResetError(), S3Failure.TRANSIENT),
        (NoCredentialsError(), S3Failure.DENIED),
        (ValueError("not from S3"), S3Failure.OTHER),
    ],
)
def test_other_exceptions(error, kind):
    assert classify(error) is kind


class Pages:
    def __init__(self, pages):
        self.pages, self.calls = pages, []

    def get_paginator(self, name):
        assert name == "list_objects_v2"
        return self

    def paginate(self, **kwargs):
        self.calls.append(kwargs)
        return iter(self.pages)


def test_list_keys_reads_every_page_and_skips_folder_markers():
    s3 = Pages([{"Contents": [{"Key": "a/1"}, {"Key": "a/"}]}, {}, {"Contents": [{"Key": "a/2"}]}])
    assert list(list_keys(s3, "bucket", "a/")) == ["a/1", "a/2"]
    assert s3.calls == [{"Bucket": "bucket", "Prefix": "a/"}]


def test_list_folders_names_the_folders_directly_under_a_prefix():
    s3 = Pages([{"CommonPrefixes": [{"Prefix": "out/run-1/"}]}, {"CommonPrefixes": [{"Prefix": "out/run-2/"}]}])
    assert list(list_folders(s3, "bucket", "out/")) == ["run-1", "run-2"]
    assert s3.calls == [{"Bucket": "bucket", "Prefix": "out/", "Delimiter": "/"}]


def test_list_range_gives_keys_and_etags_across_pages_within_its_bounds():
    s3 = PagedS3(["h/", "h/a.gz", "h/b.gz", "h/c.gz", "h/d.gz", "h/e.gz", "h/sub/f.gz", "other/g.gz"])
    sizes: dict[str, int] = {}

    everything = list_range(s3, "bucket", "h/", sizes=sizes)
    assert [key for key, _ in everything] == ["h/a.gz", "h/b.gz", "h/c.gz", "h/d.gz", "h/e.gz", "h/sub/f.gz"]
    assert dict(everything)["h/a.gz"] == "h/a.gz"[-6:]  # the ETag without its quotes
    assert sizes["h/e.gz"] == len("h/e.gz") and "h/" not in sizes  # no folder marker
    assert [key for key, _ in list_range(s3, "bucket", "h/", "h/a.gz", "h/d.gz")] == ["h/b.gz", "h/c.gz", "h/d.gz"]
