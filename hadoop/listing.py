"""Listing the metadata objects with their ETags, several LIST requests at a time.

A LIST page holds 1,000 keys and pages follow one another (each needs the previous
one's continuation token), so 100,000 keys are 100 requests in a row. The key space is
cut into ranges at `StartAfter` boundaries and the ranges are listed in parallel. The
boundaries suit hex image ids (`metadata/<hex>.json`); keys of any other shape are
still listed, only by fewer ranges.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

from pipeline_common.s3 import S3Client

HEX = "0123456789abcdef"


def boundaries(prefix: str) -> list[str]:
    """Keys cutting `prefix`'s key space into 16 ranges: up to `prefix1`, then
    (`prefix1`, `prefix2`], ... and after `prefixf`."""
    return [prefix + char for char in HEX[1:]]


def _etag(item: dict) -> str:
    return item.get("ETag", "").strip('"')


def list_range(
    s3: S3Client, bucket: str, prefix: str, start_after: str | None, end: str | None, sizes: dict | None = None
) -> list[tuple[str, str]]:
    """(key, etag) of the keys under `prefix` with start_after < key <= end, in key order
    (StartAfter is exclusive, so consecutive ranges sharing a boundary meet exactly);
    each one's size goes into `sizes` when given."""
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
            if not key.endswith("/"):  # zero-byte folder markers
                found.append((key, _etag(item)))
                if sizes is not None:
                    sizes[key] = item.get("Size", 0)
        if not page.get("IsTruncated"):
            return found
        kwargs.pop("StartAfter", None)
        kwargs["ContinuationToken"] = page["NextContinuationToken"]


def list_objects(s3: S3Client, bucket: str, prefix: str, threads: int = 8) -> Iterator[tuple[str, str]]:
    """(key, etag) of every object under `prefix`, in key order."""
    cuts = boundaries(prefix)
    starts, ends = [None, *cuts], [*cuts, None]
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        ranges = pool.map(lambda bounds: list_range(s3, bucket, prefix, *bounds), zip(starts, ends, strict=True))
        for found in ranges:
            yield from found
