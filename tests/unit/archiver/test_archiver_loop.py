"""The archiver's loop with a fake consumer and an in-memory S3: batches become hour files
named by partition and first offset, offsets are committed only after the file is written,
and a batch read again after a crash overwrites the same file."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from archiver.loop import Archiver, RunLimits
from pipeline_common.contracts import DetectionEvent, serialize_detection_event
from pipeline_common.contracts.detection_archive import decode_file, part_key
from pipeline_common.retry import Backoff
from tests.support import fakes

HOUR_10 = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)
HOUR_11 = datetime(2026, 11, 28, 11, 0, tzinfo=timezone.utc)


class Message(fakes.FakeMessage):
    def __init__(self, value, offset, partition=0, at=HOUR_10):
        super().__init__(value, offset, partition, "detections", None, None)
        self._millis = int(at.timestamp() * 1000)

    def timestamp(self):
        return (1, self._millis)


class Consumer(fakes.FakeBatchConsumer):
    """Sets `stop` once its batches are handed out (the run ends as a shutdown does);
    `commits` holds the (partition, offset)s committed."""

    def __init__(self, batches, stop: threading.Event):
        super().__init__(batches, on_drained=stop.set)
        self.commits: list[tuple[int, int]] = []

    def commit(self, offsets=None, asynchronous=True):
        self.commits += [(tp.partition, tp.offset) for tp in offsets]


def event(number: int) -> bytes:
    return serialize_detection_event(
        DetectionEvent(f"{number:032x}", "cam-1", HOUR_10, HOUR_10, "yolov4-tiny", {"dog": 1} if number % 2 else {})
    )


def archive(batches, s3=None, stop_when_drained=True, **options):
    """A run over `batches`; it ends once they are handed out, unless `stop_when_drained`
    is False (then a limit must end it)."""
    stop = threading.Event()
    consumer = Consumer(batches, stop if stop_when_drained else threading.Event())
    s3 = s3 if s3 is not None else fakes.FakeS3()
    summary = Archiver(
        consumer=consumer,
        s3=s3,
        bucket="b",
        topic="detections",
        prefix="detections/",
        stop=stop,
        backoff=Backoff(0.01, 30.0),
        **options,
    ).run()
    return summary, consumer, s3


def lines(s3, key: str) -> list[bytes]:
    return decode_file(s3.objects[("b", key)])


def test_a_batch_becomes_one_file_per_partition_then_its_offsets_are_committed():
    messages = [Message(event(n), offset=n // 2, partition=n % 2) for n in range(6)]
    summary, consumer, s3 = archive([messages])
    assert summary.archived == 6 and summary.files == 2
    assert sorted(s3.objects) == [
        ("b", part_key("detections/", HOUR_10, 0, 0)),
        ("b", part_key("detections/", HOUR_10, 1, 0)),
    ]
    assert lines(s3, part_key("detections/", HOUR_10, 1, 0)) == [event(1), event(3), event(5)]
    assert sorted(consumer.commits) == [(0, 3), (1, 3)]
    assert (
        part_key("detections/", HOUR_10, 1, 0)
        == "detections/date=2026-11-28/hour=10/part-00001-00000000000000000000.jsonl.gz"
    )


def test_a_batch_never_spans_two_hours():
    messages = [Message(event(0), 0), Message(event(1), 1), Message(event(2), 2, at=HOUR_11)]
    _, consumer, s3 = archive([messages])
    assert lines(s3, part_key("detections/", HOUR_10, 0, 0)) == [event(0), event(1)]
    assert lines(s3, part_key("detections/", HOUR_11, 0, 2)) == [event(2)]
    assert consumer.commits == [(0, 2), (0, 3)]


def test_max_records_closes_a_batch():
    _, consumer, s3 = archive([[Message(event(n), n) for n in range(5)]], max_records=2)
    assert [key for _, key in sorted(s3.objects)] == [part_key("detections/", HOUR_10, 0, first) for first in (0, 2, 4)]
    assert consumer.commits == [(0, 2), (0, 4), (0, 5)]


def test_a_batch_read_again_after_a_crash_overwrites_the_same_file():
    first = [Message(event(n), n) for n in range(4)]
    # the first archiver wrote its file; its commit never reached the broker (it crashed)
    _, _, s3 = archive([first])
    # so the next one reads the same messages again, and one more, and commits
    _, consumer, s3 = archive([[*first, Message(event(4), 4)]], s3=s3)
    assert [key for _, key in s3.objects] == [part_key("detections/", HOUR_10, 0, 0)]
    assert lines(s3, part_key("detections/", HOUR_10, 0, 0)) == [event(n) for n in range(5)]
    assert consumer.commits == [(0, 5)]


def test_messages_that_are_no_event_are_skipped_but_committed():
    summary, consumer, s3 = archive([[Message(b"not json", 0), Message(event(1), 1)]])
    assert summary.skipped == 1 and summary.archived == 1
    assert lines(s3, part_key("detections/", HOUR_10, 0, 0)) == [event(1)]
    assert consumer.commits == [(0, 2)]


def test_a_transient_s3_failure_is_retried_before_the_commit():
    s3 = fakes.FakeS3(failures=[fakes.client_error("SlowDown", 503, "PutObject")])
    # max_records=1: the batch is written as the event arrives, while the archiver runs
    summary, consumer, s3 = archive([[Message(event(1), 7)]], s3=s3, max_records=1)
    assert summary.files == 1 and consumer.commits == [(0, 8)]


def test_at_shutdown_a_failing_write_is_given_up_uncommitted():
    s3 = fakes.FakeS3(failures=[fakes.client_error("SlowDown", 503, "PutObject")])
    summary, consumer, _ = archive([[Message(event(1), 7)]], s3=s3)
    assert summary.files == 0 and consumer.commits == [] and "read again" in summary.stopped_by


def test_refused_credentials_stop_without_committing():
    s3 = fakes.FakeS3(failures=[fakes.client_error("AccessDenied", 403, "PutObject")])
    summary, consumer, _ = archive([[Message(event(1), 7)]], s3=s3)
    assert summary.fatal and consumer.commits == []


def test_idle_timeout_ends_the_run_and_writes_what_is_in_hand():
    summary, consumer, _ = archive(
        [[Message(event(1), 0)]], stop_when_drained=False, limits=RunLimits(idle_timeout_s=0.05)
    )
    assert "idle-timeout" in summary.stopped_by and summary.files == 1 and consumer.commits == [(0, 1)]
