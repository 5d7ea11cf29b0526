"""The gallery's images: originals read from S3 with the dashboard's own keys (which may
read images/ and nothing else), thumbnails made from them with Pillow and kept in a
bounded in-memory cache.

Each thumbnail is made once per app process: concurrent requests for one that is not
cached yet wait for the first to make it instead of each decoding the original. Image
ids name the image's content, so a thumbnail never goes stale; the least recently used
ones leave the cache when it is full."""

from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from botocore.exceptions import BotoCoreError, ClientError
from cachetools import LRUCache
from PIL import Image, UnidentifiedImageError

from pipeline_common.contracts import image_key
from pipeline_common.s3 import S3Client, S3Failure, classify

log = logging.getLogger(__name__)

S3_ERRORS = (ClientError, BotoCoreError)
JPEG_QUALITY = 80
CHUNK = 64 * 1024


class ImageMissing(LookupError):
    """No such image under images/."""


class ImageUnavailable(RuntimeError):
    """S3 could not be read (unreachable, or refused the dashboard's keys): `status`, `message`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Original:
    """An original being streamed from S3."""

    length: int | None
    chunks: Iterator[bytes]


def _failed(error: BaseException, key: str) -> Exception:
    kind = classify(error)
    if kind is S3Failure.NOT_FOUND:
        return ImageMissing(key)
    if kind is S3Failure.DENIED:
        return ImageUnavailable(503, "S3 refused the dashboard's credentials (FRONTEND_S3_ACCESS_KEY may read images/)")
    if kind is S3Failure.NO_BUCKET:
        return ImageUnavailable(503, "the bucket S3_BUCKET does not exist")
    if kind is S3Failure.TRANSIENT:
        return ImageUnavailable(503, f"S3 is unavailable ({type(error).__name__})")
    return ImageUnavailable(502, f"S3 answered with an error ({type(error).__name__})")


def thumbnail_jpeg(original: bytes, size: int) -> bytes:
    """A JPEG whose longest side is at most `size` pixels (never enlarged), aspect kept."""
    with Image.open(io.BytesIO(original)) as image:
        image.draft("RGB", (size, size))  # JPEG: decode at a reduced scale, much faster
        image = image.convert("RGB")
        image.thumbnail((size, size), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
        return out.getvalue()


class ThumbnailCache:
    """Bytes by key, at most `max_bytes` in all (least recently used out first), each
    made once however many ask at the same time."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._cache: LRUCache | None = LRUCache(maxsize=max_bytes, getsizeof=len) if max_bytes > 0 else None
        self._lock = threading.Lock()
        self._making: dict[Any, threading.Lock] = {}

    def _get(self, key) -> bytes | None:
        if self._cache is None:
            return None
        with self._lock:
            return self._cache.get(key)

    def get_or_make(self, key, make: Callable[[], bytes]) -> tuple[bytes, bool]:
        """(bytes, whether they came from the cache)."""
        found = self._get(key)
        if found is not None:
            return found, True
        with self._lock:
            making = self._making.setdefault(key, threading.Lock())
        try:
            with making:
                found = self._get(key)  # made while this request waited
                if found is not None:
                    return found, True
                made = make()
                if self._cache is not None and len(made) <= self.max_bytes:
                    with self._lock:
                        self._cache[key] = made
                return made, False
        finally:
            with self._lock:
                if self._making.get(key) is making:
                    del self._making[key]

    @property
    def size(self) -> int:
        with self._lock:
            return int(self._cache.currsize) if self._cache is not None else 0


class ImageStore:
    """Reads originals from S3 (images/<id>.jpg only: the key is built here from a
    checked id) and makes thumbnails of them."""

    def __init__(self, s3: S3Client, bucket: str, cache: ThumbnailCache) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.cache = cache

    def original(self, image_id: str) -> Original:
        key = image_key(image_id)
        try:
            answer = self.s3.get_object(Bucket=self.bucket, Key=key)
        except S3_ERRORS as error:
            raise _failed(error, key) from error
        body = answer["Body"]

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(CHUNK)
            finally:
                body.close()

        return Original(length=answer.get("ContentLength"), chunks=chunks())

    def _read(self, image_id: str) -> bytes:
        key = image_key(image_id)
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
            try:
                return body.read()
            finally:
                body.close()
        except S3_ERRORS as error:
            raise _failed(error, key) from error

    def thumbnail(self, image_id: str, size: int) -> tuple[bytes, bool]:
        """(JPEG bytes, whether from the cache)."""

        def make() -> bytes:
            original = self._read(image_id)
            try:
                return thumbnail_jpeg(original, size)
            except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as error:
                log.warning("cannot make a thumbnail of s3://%s/%s: %s", self.bucket, image_key(image_id), error)
                raise ImageUnavailable(502, f"the stored image {image_id} cannot be decoded") from error

        return self.cache.get_or_make((image_id, size), make)
