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

from pipeline_common.s3 import S3Client, list_range

HEX = "0123456789abcdef"


def boundaries(prefix: str) -> list[str]:
    """Keys cutting `prefix`'s key space into 16 ranges: up to `prefix1`, then
    (`prefix1`, `prefix2`], ... and after `prefixf`."""
    return [prefix + char for char in HEX[1:]]


def list_objects(s3: S3Client, bucket: str, prefix: str, threads: int = 8) -> Iterator[tuple[str, str]]:
    """(key, etag) of every object under `prefix`, in key order."""
    cuts = boundaries(prefix)
    starts, ends = [None, *cuts], [*cuts, None]
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        ranges = pool.map(lambda bounds: list_range(s3, bucket, prefix, *bounds), zip(starts, ends, strict=True))
        for found in ranges:
            yield from found
