"""What the gallery's tests share: live indices of their own, images stored under random
ids in the pipeline's bucket (where the dashboard's S3 account may read), an app reading
both with the dashboard's own accounts, and the detections the real detector finds."""

from __future__ import annotations

import io
import uuid
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator

import pytest
from elasticsearch.helpers import bulk
from PIL import Image

from es_live.documents import action
from es_live.index import ensure_template, live_index_names, template_name
from pipeline_common.contracts import DetectionEvent, image_key
from pipeline_common.contracts.detection_event import DetectedObject
from pipeline_common.environment import SettingsError
from pipeline_common.settings import FrontendS3Settings
from pipeline_common.timestamps import utc_now
from simple_frontend.app import create_app
from simple_frontend.settings import FrontendSettings

PHOTOS = Path("/usr/share/darknet/data")


def new_image_id() -> str:
    return uuid.uuid4().hex


def small_jpeg(width: int = 320, height: int = 240, color=(90, 120, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "JPEG", quality=85)
    return out.getvalue()


class StoredImages:
    """Objects a test put into the bucket, deleted afterwards."""

    def __init__(self, s3, bucket: str) -> None:
        self.s3, self.bucket, self.keys = s3, bucket, []

    def put(self, data: bytes, image_id: str | None = None, key: str | None = None) -> str:
        image_id = image_id or new_image_id()
        key = key or image_key(image_id)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType="image/jpeg")
        self.keys.append(key)
        return image_id

    def delete_all(self) -> None:
        for key in self.keys:
            self.s3.delete_object(Bucket=self.bucket, Key=key)


@pytest.fixture(scope="module")
def stored(s3, s3_settings):
    images = StoredImages(s3, s3_settings.bucket)
    yield images
    images.delete_all()


@pytest.fixture(scope="session")
def dashboard_s3_settings(pipeline_env) -> FrontendS3Settings:
    """The dashboard's own S3 account (FRONTEND_S3_*): reads images/ only."""
    try:
        return FrontendS3Settings.from_env(pipeline_env)
    except SettingsError as error:
        pytest.fail(
            f"{error}: run `make up` once (it adds the dashboard's S3 keys to .env and has the S3 server "
            "reload its accounts)",
            pytrace=False,
        )


@contextmanager
def live_indices(es, es_settings, tag: str) -> Iterator[str]:
    """A prefix of live indices of its own (in the live family the API's account may read),
    its template in place; the indices and the template are deleted afterwards."""
    prefix = f"{es_settings.live_index_prefix}test-{tag}-{uuid.uuid4().hex[:10]}-"
    ensure_template(es, prefix)
    try:
        yield prefix
    finally:
        for name in live_index_names(es, prefix):
            es.indices.delete(index=name, ignore_unavailable=True)
        es.options(ignore_status=404).indices.delete_index_template(name=template_name(prefix))


@pytest.fixture(scope="module")
def gallery_live_prefix(es, es_settings):
    with live_indices(es, es_settings, "gallery") as prefix:
        yield prefix


def index_events(es, prefix: str, events: list[DetectionEvent]) -> None:
    """As the live indexer writes them: one document per image, id = image id."""
    ok, errors = bulk(es, (action(event, prefix, utc_now()) for event in events), refresh="wait_for")
    assert not errors and ok == len(events)


def event(
    image_id: str,
    source: str,
    captured_at: datetime,
    objects: list[tuple[str, float, tuple]],
    width: int = 320,
    height: int = 240,
) -> DetectionEvent:
    counts: dict[str, int] = {}
    for label, _, _ in objects:
        counts[label] = counts.get(label, 0) + 1
    return DetectionEvent(
        image_id=image_id,
        source=source,
        captured_at=captured_at,
        processed_at=captured_at,
        model="yolov4-tiny",
        counts=counts,
        width=width,
        height=height,
        objects=tuple(DetectedObject(label=label, score=score, box=box) for label, score, box in objects),
    )


def gallery_app(api_es_settings, prefix: str, dashboard_s3_settings, **overrides):
    """The dashboard as deployed: its own read-only Elasticsearch and S3 accounts."""
    settings = FrontendSettings(
        elasticsearch=api_es_settings.replace(live_index_prefix=prefix),
        images=dashboard_s3_settings,
        max_staleness_s=0,
        **overrides,
    )
    return create_app({"FRONTEND_SETTINGS": settings, "ES_INDEX": f"{api_es_settings.index}-test-gallery-none"})
