"""backfill: after the local ledger is lost, announce S3 images that nothing processed yet."""

from __future__ import annotations

import io
import json

from PIL import Image

from pipeline_common.contracts import ImageAnnouncement, image_key, metadata_key
from producer.announce import Announcer
from producer.backfill import backfill
from producer.prepare import prepare_all
from producer.publish import Publisher, publish_all
from producer.sidecar import list_frames, read_record
from producer.state import PUBLISHED_FILE, PublishedLedger


def announcer(settings, producer):
    return Announcer(producer, "images", PublishedLedger.in_folder(settings.frames_dir, "bucket", "images"))


def test_backfill_after_losing_the_ledger(settings, pictures, fake_s3, fake_producer):
    for seed in range(3):
        Image.fromarray(pictures.gradient(50 + seed, 30)).save(settings.new_pics_dir / f"p{seed}.png")
    prepare_all(settings, progress=False)
    frames = list_frames(settings.frames_dir)
    publish_all(Publisher(fake_s3, "bucket", announcer(settings, fake_producer())), frames, 1, progress=False)
    (settings.frames_dir / PUBLISHED_FILE).unlink()  # the local state is gone
    processed = frames[0].stem
    fake_s3.objects[metadata_key(processed)] = {"Body": b"{}", "LastModified": None, "Metadata": {}}
    fake_s3.objects["images/readme.txt"] = {"Body": b"?", "LastModified": None, "Metadata": {}}

    producer = fake_producer()
    report = backfill(fake_s3, "bucket", announcer(settings, producer), "", flush_timeout=1, progress=False)

    assert report.ok
    assert report.listed == 4 and report.already_processed == 1 and report.not_ours == ["images/readme.txt"]
    sent = [ImageAnnouncement.from_json_bytes(m.value()) for m in producer.delivered]
    assert sorted(a.image_id for a in sent) == sorted(f.stem for f in frames[1:])
    for announcement in sent:  # rebuilt from the object's metadata, same as publish sent
        record = read_record(settings.frames_dir / f"{announcement.image_id}.jpg")
        assert (announcement.source, announcement.captured_at) == (record.source, record.captured_at)
        assert (announcement.width, announcement.height) == (record.width, record.height)

    again = backfill(fake_s3, "bucket", announcer(settings, fake_producer()), "", flush_timeout=1, progress=False)
    assert again.acknowledged == [] and again.already_announced == 2


def test_objects_from_elsewhere_are_read_for_their_size(settings, fake_s3, fake_producer):
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30)).save(buffer, format="JPEG")
    image_id = "1" * 32
    fake_s3.put_object(Bucket="bucket", Key=image_key(image_id), Body=buffer.getvalue())  # no metadata
    producer = fake_producer()

    report = backfill(fake_s3, "bucket", announcer(settings, producer), "uploads", flush_timeout=1, progress=False)

    assert report.ok
    message = json.loads(producer.delivered[0].value())
    assert (message["width"], message["height"], message["source"]) == (40, 30, "uploads")
    assert message["captured_at"] == "2025-01-02T03:04:05.000Z"  # the object's upload time


def test_unreadable_objects_are_reported(settings, fake_s3, fake_producer):
    fake_s3.put_object(Bucket="bucket", Key=image_key("2" * 32), Body=b"not a jpeg")
    report = backfill(fake_s3, "bucket", announcer(settings, fake_producer()), "", flush_timeout=1, progress=False)
    assert [key for key, _ in report.failures] == [image_key("2" * 32)]
