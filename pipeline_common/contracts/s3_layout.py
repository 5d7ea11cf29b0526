"""Where each stage's objects live in the bucket."""

from __future__ import annotations

import re

from .errors import ContractError

IMAGES_PREFIX = "images/"
METADATA_PREFIX = "metadata/"
OUTPUT_PREFIX = "mapreduce-output/"

IMAGE_ID_PATTERN = re.compile(r"^[0-9a-f]{16,64}$")
S3_URI_PATTERN = re.compile(r"^s3a?://(?P<bucket>[a-z0-9][a-z0-9.\-]{1,62})/(?P<key>.+)$")


def check_image_id(image_id: str) -> str:
    if not isinstance(image_id, str) or not IMAGE_ID_PATTERN.fullmatch(image_id):
        raise ContractError(f"image_id must be 16-64 lowercase hex characters, got {image_id!r}", field="image_id")
    return image_id


def image_key(image_id: str) -> str:
    return f"{IMAGES_PREFIX}{check_image_id(image_id)}.jpg"


def metadata_key(image_id: str) -> str:
    return f"{METADATA_PREFIX}{check_image_id(image_id)}.json"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key)."""
    match = S3_URI_PATTERN.fullmatch(uri) if isinstance(uri, str) else None
    if not match:
        raise ContractError(f"expected an s3://bucket/key URI, got {uri!r}")
    return match["bucket"], match["key"]
