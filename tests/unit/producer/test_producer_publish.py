"""publish: upload once, announce once, and count as sent only what Kafka acknowledged."""

from __future__ import annotations

import json
import shutil

import pytest
from botocore.exceptions import EndpointConnectionError
from PIL import Image

from pipeline_common.contracts import ImageAnnouncement, image_key
from producer.announce import Announcer
from producer.prepare import prepare_all
from producer.publish import Publisher, publish_all
from producer.sidecar import list_frames, read_record
from producer.state import PublishedLedger


@pytest.fixture
def frames(settings, pictures):
    for seed in range(3):
        Image.fromarray(pictures.gradient(60 + seed, 40)).save(settings.new_pics_dir / f"p{seed}.png")
    prepare_all(settings, progress=False)
    return list_frames(settings.frames_dir)


def publish_once(settings, s3, producer, frames=None):
    ledger = PublishedLedger.in_folder(settings.frames_dir, "bucket", "images")
    publisher = Publisher(s3, "bucket", Announcer(producer, "images", ledger))
    paths = frames if frames is not None else list_frames(settings.frames_dir)
    return publish_all(publisher, paths, flush_timeout=1, progress=False)


def test_each_frame_is_uploaded_and_announced_once(settings, frames, fake_s3, fake_producer):
    producer = fake_producer()
    report = publish_once(settings, fake_s3, producer)

    assert report.ok and report.uploaded == 3 and len(report.acknowledged) == 3
    assert len(producer.delivered) == 3
    for message in producer.delivered:
        announcement = ImageAnnouncement.from_json_bytes(message.value())
        assert message.key() == announcement.image_id.encode()
        record = read_record(settings.frames_dir / f"{announcement.image_id}.jpg")
        stored = fake_s3.objects[image_key(announcement.image_id)]
        assert announcement.image_path == f"s3://bucket/images/{announcement.image_id}.jpg"
        assert announcement.size_bytes == len(stored["Body"])
        assert (announcement.width, announcement.height) == (record.width, record.height)
        assert announcement.captured_at == record.captured_at
        assert announcement.source == record.source == "new_pics"
        assert stored["Metadata"]["source"] == "new_pics"

    again = publish_once(settings, fake_s3, fake_producer())
    assert again.ok and again.uploaded == 0 and again.acknowledged == [] and again.already_announced == 3
    assert len(fake_s3.puts) == 3


def test_undelivered_announcements_are_failures_and_retried_next_run(settings, frames, fake_s3, fake_producer):
    down = fake_producer(fail_with="Local: Message timed out")
    report = publish_once(settings, fake_s3, down)

    assert not report.ok and report.acknowledged == []
    assert len(report.failures) == 3
    assert all("did not acknowledge" in reason for _, reason in report.failures)
    assert report.uploaded == 3  # the images are in S3 ...
    ledger = PublishedLedger.in_folder(settings.frames_dir, "bucket", "images")
    assert len(ledger) == 0  # ... but nothing counts as announced

    up = fake_producer()
    retry = publish_once(settings, fake_s3, up)
    assert retry.ok and len(retry.acknowledged) == 3
    assert retry.uploaded == 0 and retry.already_in_s3 == 3
    assert len(up.delivered) == 3


def test_no_delivery_report_is_a_failure(settings, frames, fake_s3, fake_producer):
    report = publish_once(settings, fake_s3, fake_producer(stall=True))
    assert len(report.failures) == 3
    assert all("no delivery report" in reason for _, reason in report.failures)
    assert len(PublishedLedger.in_folder(settings.frames_dir, "bucket", "images")) == 0


def test_a_full_local_queue_waits_instead_of_dropping(settings, frames, fake_s3, fake_producer):
    producer = fake_producer(buffer_limit=1)
    report = publish_once(settings, fake_s3, producer)
    assert report.ok and len(producer.delivered) == 3
    assert producer.buffer_errors >= 1


def test_a_same_sized_object_is_not_uploaded_again(settings, frames, fake_s3, fake_producer):
    frame = frames[0]
    key = image_key(frame.stem)
    fake_s3.put_object(Bucket="bucket", Key=key, Body=frame.read_bytes())
    fake_s3.puts.clear()

    report = publish_once(settings, fake_s3, fake_producer())

    assert report.already_in_s3 == 1 and report.uploaded == 2
    assert key not in fake_s3.puts


def test_broken_frames_are_listed_and_the_rest_published(settings, frames, fake_s3, fake_producer):
    shutil.copy(frames[0], settings.frames_dir / ("f" * 32 + ".jpg"))  # a JPEG without sidecar
    frames[1].write_bytes(frames[1].read_bytes() + b"changed")  # edited after prepare
    producer = fake_producer()

    report = publish_once(settings, fake_s3, producer)

    reasons = dict(report.failures)
    assert set(reasons) == {"f" * 32 + ".jpg", frames[1].name}
    assert "no sidecar" in reasons["f" * 32 + ".jpg"]
    assert "does not match" in reasons[frames[1].name]
    assert [json.loads(m.value())["image_id"] for m in producer.delivered] == [frames[0].stem, frames[2].stem]


@pytest.mark.parametrize(
    "field, value",
    [
        ("captured_at", "9999-12-31T23:59:59-01:00"),  # valid ISO-8601, past year 9999 in UTC
        ("width", int("9" * 30)),
        ("source", " "),
        ("frame_offset_s", "1.5"),
    ],
)
def test_a_sidecar_that_does_not_read_is_a_failure_and_the_rest_published(
    settings, frames, fake_s3, fake_producer, field, value
):
    sidecar = frames[1].with_suffix(".json")
    sidecar.write_text(json.dumps(dict(json.loads(sidecar.read_text()), **{field: value})))
    producer = fake_producer()

    report = publish_once(settings, fake_s3, producer)

    assert [item for item, _ in report.failures] == [frames[1].name]
    assert field in report.failures[0][1]
    assert [json.loads(m.value())["image_id"] for m in producer.delivered] == [frames[0].stem, frames[2].stem]


def test_s3_down_stops_the_batch_and_lists_the_rest(settings, frames, fake_s3, fake_producer):
    fake_s3.fail_puts_with = EndpointConnectionError(endpoint_url="http://s3.invalid")
    report = publish_once(settings, fake_s3, fake_producer())
    items = [item for item, _ in report.failures]
    assert items == [frame.name for frame in frames]
    assert "S3 unreachable" in report.failures[0][1]
    assert "not attempted" in report.failures[1][1]
    assert report.acknowledged == []


def test_a_lost_ledger_does_not_resend_what_the_consumer_processed(settings, frames, fake_s3, fake_producer):
    from pipeline_common.contracts import metadata_key
    from producer.state import PUBLISHED_FILE

    publish_once(settings, fake_s3, fake_producer())
    (settings.frames_dir / PUBLISHED_FILE).unlink()
    fake_s3.objects[metadata_key(frames[0].stem)] = {"Body": b"{}", "LastModified": None, "Metadata": {}}
    producer = fake_producer()

    report = publish_once(settings, fake_s3, producer)

    assert report.ok and report.already_processed == 1
    assert sorted(json.loads(m.value())["image_id"] for m in producer.delivered) == [f.stem for f in frames[1:]]


def test_a_message_the_client_refuses_is_a_failure_not_a_crash(settings, frames, fake_s3, fake_producer):
    from confluent_kafka import KafkaError, KafkaException

    class RefusingProducer(fake_producer):
        def produce(self, topic, key=None, value=None, on_delivery=None):
            if key == frames[0].stem.encode():
                raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
            super().produce(topic, key, value, on_delivery)

    producer = RefusingProducer()
    report = publish_once(settings, fake_s3, producer)
    assert [item for item, _ in report.failures] == [frames[0].stem]
    assert len(report.acknowledged) == 2
