"""The producer against the real local S3 and Kafka, run as a user runs it."""

from __future__ import annotations

import hashlib
import shutil
import signal
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline_common.contracts import ImageAnnouncement, image_key, metadata_key

DARKNET = Path("/usr/share/darknet/data")
PHOTOS = ["dog.jpg", "person.jpg", "kite.jpg", "eagle.jpg"]

pytestmark = pytest.mark.skipif(not (DARKNET / "dog.jpg").exists(), reason="Debian package darknet not installed")


def frame_ids(frames_dir: Path) -> set[str]:
    return {p.stem for p in frames_dir.glob("*.jpg")}


def add_photos(new_pics: Path, names=PHOTOS) -> None:
    for name in names:
        shutil.copy(DARKNET / name, new_pics / name)


def add_video(path: Path, seconds: int = 2, fps: int = 10) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (160, 120))
    for index in range(seconds * fps):
        frame = np.zeros((120, 160, 3), dtype=np.uint8)
        cv2.rectangle(frame, (index * 5, 30), (index * 5 + 40, 90), (0, 200, 255), -1)
        writer.write(frame)
    writer.release()


def announcements(messages) -> dict[str, ImageAnnouncement]:
    found = {}
    for message in messages:
        announcement = ImageAnnouncement.from_json_bytes(message.value())
        assert message.key().decode() == announcement.image_id
        assert announcement.image_id not in found, f"{announcement.image_id} announced twice"
        found[announcement.image_id] = announcement
    return found


def test_run_uploads_and_announces_each_frame_once(run_producer, folders, s3, bucket, topic, topic_reader, kafka_admin):
    new_pics, frames = folders
    add_photos(new_pics)
    add_video(new_pics / "door.mp4")

    first = run_producer("run")

    assert first.returncode == 0, first.stderr
    ids = frame_ids(frames)
    assert len(ids) == len(PHOTOS) + 2  # 2 s of video at 1 frame per second
    sent = announcements(topic_reader(topic))
    assert set(sent) == ids
    assert len(kafka_admin.list_topics(topic, timeout=10).topics[topic].partitions) == 3
    for image_id, announcement in sent.items():
        assert announcement.image_path == f"s3://{bucket}/{image_key(image_id)}"
        body = s3.get_object(Bucket=bucket, Key=image_key(image_id))["Body"].read()
        assert hashlib.sha256(body).hexdigest()[:32] == image_id
        assert announcement.size_bytes == len(body)
        assert announcement.source == "new_pics"
    years = {a.captured_at.year for a in sent.values()}
    assert {2010, 2013, 2014} <= years  # the photos' EXIF DateTimeOriginal, not the copies' times
    stored = {o["Key"]: o["LastModified"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    time.sleep(1.1)  # S3 times have one-second resolution: a re-upload would now show

    second = run_producer("run")

    assert second.returncode == 0, second.stderr
    assert len(topic_reader(topic)) == len(ids)  # nothing announced again
    assert {o["Key"]: o["LastModified"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]} == stored


def test_announcements_kafka_did_not_take_are_sent_by_the_next_run(
    run_producer, folders, s3, bucket, topic, topic_reader, kafka_admin, closed_port
):
    from confluent_kafka.admin import NewTopic

    new_pics, frames = folders
    add_photos(new_pics, PHOTOS[:2])
    kafka_admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(timeout=30)
    assert run_producer("prepare").returncode == 0

    broker_down = run_producer(
        "publish",
        KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{closed_port}",
        PRODUCER_CREATE_TOPIC="false",
        PRODUCER_DELIVERY_TIMEOUT_S="3",
    )

    assert broker_down.returncode == 1
    ids = frame_ids(frames)
    for image_id in ids:
        assert image_id in broker_down.stderr  # each failure is listed
        s3.head_object(Bucket=bucket, Key=image_key(image_id))  # ... though the upload happened
    assert topic_reader(topic) == []
    stored = {o["Key"]: o["LastModified"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}

    recovered = run_producer("publish")

    assert recovered.returncode == 0, recovered.stderr
    assert set(announcements(topic_reader(topic))) == ids
    # the objects were there already: not uploaded again
    assert {o["Key"]: o["LastModified"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]} == stored


def test_backfill_announces_what_was_neither_acknowledged_nor_processed(
    run_producer, folders, s3, bucket, topic, topic_reader
):
    new_pics, frames = folders
    add_photos(new_pics, PHOTOS[:3])
    assert run_producer("run").returncode == 0
    ids = sorted(frame_ids(frames))
    (frames / ".published.jsonl").unlink()  # the local record is lost
    s3.put_object(Bucket=bucket, Key=metadata_key(ids[0]), Body=b"{}")  # the consumer did this one

    result = run_producer("backfill")

    assert result.returncode == 0, result.stderr
    messages = topic_reader(topic)
    assert len(messages) == 3 + 2
    keys = sorted(m.key().decode() for m in messages)
    assert keys == sorted(ids + ids[1:])  # each once from run, the two unprocessed once more
    backfilled = [ImageAnnouncement.from_json_bytes(m.value()) for m in messages]
    assert {a.source for a in backfilled} == {"new_pics"}  # carried in the object's metadata

    assert run_producer("backfill").returncode == 0
    assert run_producer("publish").returncode == 0
    assert len(topic_reader(topic)) == 5  # both now know these were acknowledged


def test_watch_announces_a_dropped_file(start_producer, folders, topic, topic_reader):
    new_pics, frames = folders
    shutil.copy(DARKNET / "eagle.jpg", new_pics / "eagle.jpg")  # waiting before watch starts
    watcher = start_producer("watch", PRODUCER_WATCH_SETTLE_S="1.0")
    log_lines: list[str] = []
    reader = threading.Thread(target=lambda: log_lines.extend(watcher.stderr), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not any("watching" in line for line in log_lines):
            assert watcher.poll() is None, "".join(log_lines)
            assert time.monotonic() < deadline, "watch did not start:\n" + "".join(log_lines)
            time.sleep(0.1)
        payload = (DARKNET / "horses.jpg").read_bytes()
        with open(new_pics / "horses.jpg", "wb") as handle:  # a slow copy, in pieces
            for start in range(0, len(payload), 32768):
                handle.write(payload[start : start + 32768])
                handle.flush()
                time.sleep(0.02)

        deadline = time.monotonic() + 60
        messages = []
        while len(messages) < 2 and time.monotonic() < deadline:
            assert watcher.poll() is None, "".join(log_lines)
            messages = topic_reader(topic)
            time.sleep(0.3)
    finally:
        watcher.send_signal(signal.SIGTERM)
        watcher.wait(timeout=60)
        reader.join(timeout=10)

    assert watcher.returncode == 0, "".join(log_lines)
    sent = announcements(messages)
    assert set(sent) == frame_ids(frames) and len(sent) == 2
    assert sorted((a.width, a.height) for a in sent.values()) == [(773, 512), (773, 512)]  # whole pictures
    assert any("SIGTERM received" in line for line in log_lines)
