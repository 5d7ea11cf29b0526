"""Bad input never stops the consumer and never vanishes: each kind ends in the
dead-letter topic with its stage and reason, and the good images around it are
processed. One consumer run over one batch interleaving every kind with good photos."""

from __future__ import annotations

import base64
import json
import struct
import threading

import pytest

from consumer.app import run_consumer
from consumer.loop import RunLimits
from consumer.settings import ConsumerSettings
from pipeline_common.contracts import metadata_key
from tests.support.services import delete_bucket

from .conftest import (
    PHOTOS,
    announcement_for,
    consumer_lag,
    create_topics,
    env_for,
    image_id_of,
    photo_variants,
    read_dead_letters,
    read_metadata,
    send_values,
    unique,
    upload_image,
)


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header claims another size (a decompression bomb)."""
    data = bytearray((PHOTOS / "eagle.jpg").read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def bad_messages(s3, bucket: str) -> dict[str, tuple[bytes, str, str]]:
    """kind -> (message value, expected stage, expected words in the reason)."""
    missing_field = announcement_for(bucket, "ab" * 16).to_dict()
    del missing_field["image_path"]
    # a valid ISO-8601 time past year 9999 once converted to UTC: crashed the consumer
    overflowing = dict(announcement_for(bucket, "cd" * 16).to_dict(), captured_at="9999-12-31T23:59:59-01:00")
    huge_size = json.dumps(dict(announcement_for(bucket, "ef" * 16).to_dict(), size_bytes=0)).replace(
        '"size_bytes": 0',
        '"size_bytes": ' + "9" * 5000,  # over Python's int conversion limit
    )
    # a source the API would list but could not take as a filter
    long_source = dict(announcement_for(bucket, "ba" * 16).to_dict(), source="camera " * 200)
    dog = (PHOTOS / "dog.jpg").read_bytes()
    objects = {
        "zero-byte": b"",
        "truncated jpeg": dog[: len(dog) // 2],
        "non-image bytes": b"Hello! This text file was uploaded as a photo by mistake.\n" * 20,
        "huge dimensions": jpeg_claiming(10_000, 8_000),  # 80 M pixels > the 40 M limit
    }
    uploaded = {kind: upload_image(s3, bucket, data).to_json_bytes() for kind, data in objects.items()}
    return {
        "malformed json": (b'{"schema_version": 1, "image_id": "abc', "parse", "not valid JSON"),
        "missing field": (json.dumps(missing_field).encode(), "parse", "missing field 'image_path'"),
        "time overflowing in UTC": (json.dumps(overflowing).encode(), "parse", "captured_at"),
        "integer over the conversion limit": (huge_size.encode(), "parse", "not valid JSON"),
        "source over 1000 characters": (json.dumps(long_source).encode(), "parse", "at most 1000 characters"),
        "nonexistent object": (
            announcement_for(bucket, image_id_of(b"never uploaded")).to_json_bytes(),
            "download",
            "does not exist",
        ),
        "zero-byte": (uploaded["zero-byte"], "decode", "zero-byte"),
        "truncated jpeg": (uploaded["truncated jpeg"], "decode", "truncated"),
        "non-image bytes": (uploaded["non-image bytes"], "decode", "not an image"),
        "huge dimensions": (uploaded["huge dimensions"], "decode", "10000x8000 = 80000000 pixels is over the limit"),
    }


KINDS = [
    "malformed json",
    "missing field",
    "time overflowing in UTC",
    "integer over the conversion limit",
    "source over 1000 characters",
    "nonexistent object",
    "zero-byte",
    "truncated jpeg",
    "non-image bytes",
    "huge dimensions",
]


@pytest.fixture(scope="module")
def batch(s3, kafka_admin, kafka_settings, pipeline_env, shared_detector, grant_kafka):
    """Good photo, bad message, good photo, bad message, ... through one consumer run."""
    bucket = unique("consumer-test-bad")
    s3.create_bucket(Bucket=bucket)
    topics = create_topics(kafka_admin)
    try:
        env = env_for(pipeline_env, bucket, topics, grant_kafka)
        bad = bad_messages(s3, bucket)
        goods = [upload_image(s3, bucket, data) for _, data in photo_variants(len(KINDS) + 1, salt=bucket)]
        values, neighbours = [goods[0].to_json_bytes()], {}
        for n, kind in enumerate(KINDS):
            values += [bad[kind][0], goods[n + 1].to_json_bytes()]
            neighbours[kind] = (goods[n], goods[n + 1])
        send_values(kafka_settings, topics[0], values)
        settings = ConsumerSettings.from_env(env)

        summary = run_consumer(settings, RunLimits(idle_timeout_s=3), threading.Event(), detector=shared_detector)

        yield {
            "summary": summary,
            "bad": bad,
            "goods": goods,
            "neighbours": neighbours,
            "topic": topics[0],
            "records": read_metadata(s3, bucket),
            "dead": read_dead_letters(kafka_settings, topics[1]),
            "lag": consumer_lag(kafka_settings, settings.group_id, topics[0]),
        }
    finally:
        kafka_admin.delete_topics(list(topics), operation_timeout=10)
        delete_bucket(s3, bucket)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_input_is_dead_lettered_with_its_reason(batch, kind):
    value, stage, reason = batch["bad"][kind]
    letters = [d for d in batch["dead"] if base64.b64decode(d["original"]["value_base64"] or "") == value]

    assert len(letters) == 1, f"{kind}: expected one dead letter, found {len(letters)}"
    letter = letters[0]
    assert letter["stage"] == stage
    assert reason in letter["reason"]
    assert letter["original"]["topic"] == batch["topic"]
    assert letter["original"]["offset"] >= 0 and letter["original"]["partition"] >= 0
    assert letter["failed_at"].endswith("Z")
    before, after = batch["neighbours"][kind]
    assert metadata_key(before.image_id) in batch["records"]
    assert metadata_key(after.image_id) in batch["records"]


def test_nothing_is_left_unprocessed(batch):
    assert len(batch["dead"]) == len(KINDS)
    assert set(batch["records"]) == {metadata_key(g.image_id) for g in batch["goods"]}
    assert batch["summary"].processed == len(batch["goods"])
    assert batch["summary"].dead_lettered == len(KINDS)
    assert batch["lag"] == 0
