"""The poll loop with a fake Kafka consumer: at-least-once, offsets in order, dead letters,
shutdown, fatal errors and revocation."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from confluent_kafka import KafkaError

from consumer.errors import Stage, TransientError
from consumer.loop import ConsumerLoop, RunLimits
from consumer.processing import Processor
from consumer.settings import ImageLimits
from pipeline_common.retry import Backoff


class FakeConsumer:
    def __init__(self, messages, revoke_after: int | None = None, lose_while_paused: bool = False):
        self.messages = list(messages)
        self.every_message = list(messages)
        self.lose_while_paused = lose_while_paused  # the session expires once, while paused (a broker restart)
        self.stored: list[tuple[str, int, int]] = []
        self.commits = 0
        self.polls = 0
        self.revoke_after = revoke_after
        self.on_store = None  # called with each stored (topic, partition, position)
        self._callbacks = {}
        self._assigned = False
        self.paused = False
        self.pauses = self.resumes = self.polls_while_paused = 0

    def subscribe(self, topics, on_assign=None, on_revoke=None, on_lost=None):
        self._callbacks = {"assign": on_assign, "revoke": on_revoke, "lost": on_lost}

    def poll(self, timeout=None):
        self.polls += 1
        if not self._assigned:
            self._assigned = True
            self._callbacks["assign"](self, [_TP("images", 0)])
        if self.revoke_after is not None and self.polls > self.revoke_after:
            self.revoke_after = None
            self._callbacks["revoke"](self, [_TP("images", 0)])
            self.messages = []  # the partition went to another consumer
        if self.paused and self.lose_while_paused:
            self.lose_while_paused = False
            self._callbacks["lost"](self, [_TP("images", 0)])
            # the partition comes back, redelivered from the last stored position; like
            # librdkafka, its pause survives the rebalance unless it was resumed
            position = self.stored[-1][2] if self.stored else 0
            self.messages = [m for m in self.every_message if m.offset() >= position]
            self._callbacks["assign"](self, [_TP("images", 0)])
        if self.paused:  # like librdkafka: nothing fetched for a paused partition
            self.polls_while_paused += 1
        elif self.messages:
            return self.messages.pop(0)
        time.sleep(min(timeout or 0, 0.01))
        return None

    def assignment(self):
        return [_TP("images", 0)] if self._assigned and self.revoke_after is None else []

    def pause(self, partitions):
        self.paused, self.pauses = True, self.pauses + 1

    def resume(self, partitions):
        self.paused, self.resumes = False, self.resumes + 1

    def store_offsets(self, offsets):
        for tp in offsets:
            self.stored.append((tp.topic, tp.partition, tp.offset))
            if self.on_store:
                self.on_store(tp.topic, tp.partition, tp.offset)

    def commit(self, asynchronous=True):
        self.commits += 1


class _TP:
    def __init__(self, topic, partition, offset=-1001):
        self.topic, self.partition, self.offset = topic, partition, offset


class FakeDeadLetters:
    def __init__(self):
        self.sent: list[tuple[int, Stage, str]] = []
        self.lock = threading.Lock()

    def publish(self, ref, stage, reason):
        with self.lock:
            self.sent.append((ref.offset, stage, reason))


class FakeEvents:
    """Records the detection events published, with the metadata keys present at that moment."""

    def __init__(self, s3=None):
        self.s3 = s3
        self.sent: list[tuple[str, dict[str, int], bool]] = []
        self.lock = threading.Lock()

    def publish(self, record):
        counts: dict[str, int] = {}
        for detection in record.detections:
            counts[detection.label] = counts.get(detection.label, 0) + 1
        objects = getattr(self.s3, "inner", self.s3).objects  # SlowS3 wraps a FakeS3
        written = any(key == f"metadata/{record.image_id}.json" for _, key in objects)
        with self.lock:
            self.sent.append((record.image_id, counts, written))


class SlowS3:
    """FakeS3 whose writes of chosen images take a while, so they finish out of order."""

    def __init__(self, inner, slow_ids=(), delay=0.3):
        self.inner, self.slow_ids, self.delay = inner, set(slow_ids), delay

    def get_object(self, **kwargs):
        return self.inner.get_object(**kwargs)

    def put_object(self, Bucket, Key, **kwargs):
        if any(image_id in Key for image_id in self.slow_ids):
            time.sleep(self.delay)
        return self.inner.put_object(Bucket=Bucket, Key=Key, **kwargs)


def image_id(n: int) -> str:
    return f"{n:032x}"


QUICK = RunLimits(idle_timeout_s=0.3)


@pytest.fixture
def make_loop(kit):
    pools = []

    def make(
        values,
        s3=None,
        limits=QUICK,
        revoke_after=None,
        stop=None,
        backoff=None,
        prefetch=3,
        lose_while_paused=False,
        **options,
    ):
        s3 = s3 or kit.FakeS3()
        stop = stop or threading.Event()
        pool = ThreadPoolExecutor(2)
        pools.append(pool)
        processor = Processor(s3, kit.BUCKET, kit.FakeDetector(), ImageLimits(), backoff or Backoff(0.001, 0.002), stop)
        consumer = FakeConsumer(
            [kit.FakeMessage(value, offset) for offset, value in enumerate(values)],
            revoke_after=revoke_after,
            lose_while_paused=lose_while_paused,
        )
        dead = FakeDeadLetters()
        events = FakeEvents(s3)
        loop = ConsumerLoop(consumer, processor, dead, pool, stop, events, prefetch=prefetch, limits=limits, **options)
        loop.subscribe(["images"])
        return loop, consumer, dead, s3

    yield make
    for pool in pools:
        pool.shutdown(wait=True, cancel_futures=True)


def good_messages(kit, s3, count, start=0):
    values = []
    for n in range(start, start + count):
        announcement = kit.announcement(image_id=image_id(n))
        s3.objects[(kit.BUCKET, f"images/{image_id(n)}.jpg")] = kit.encode(kit.photo_like(32 + n, 24))
        values.append(announcement.to_json_bytes())
    return values


def metadata_keys(s3) -> set[str]:
    return {key for _, key in s3.objects if key.startswith("metadata/")}


def test_every_message_is_processed_and_its_offset_stored_then_committed(make_loop, kit):
    s3 = kit.FakeS3()
    loop, consumer, dead, _ = make_loop(good_messages(kit, s3, 6), s3=s3)

    summary = loop.run()

    assert metadata_keys(s3) == {f"metadata/{image_id(n)}.json" for n in range(6)}
    assert summary.processed == 6 and summary.dead_lettered == 0
    assert consumer.stored[-1] == ("images", 0, 6)  # the next offset to read
    assert consumer.commits >= 1
    assert "idle" in summary.stopped_by


def test_offsets_are_stored_only_when_every_earlier_message_is_durable(make_loop, kit):
    fast = kit.FakeS3()
    values = good_messages(kit, fast, 6)
    s3 = SlowS3(fast, slow_ids=[image_id(1)], delay=0.3)  # the 2nd write finishes last
    loop, consumer, _, _ = make_loop(values, s3=s3)
    violations = []

    def check(topic, partition, position):
        written = metadata_keys(fast)
        missing = [n for n in range(position) if f"metadata/{image_id(n)}.json" not in written]
        if missing:
            violations.append((position, missing))

    consumer.on_store = check
    loop.run()

    assert violations == []
    positions = [position for _, _, position in consumer.stored]
    assert positions == sorted(positions) and positions[-1] == 6


def test_bad_messages_are_dead_lettered_and_the_good_ones_around_them_processed(make_loop, kit):
    s3 = kit.FakeS3()
    values = good_messages(kit, s3, 2)
    ghost = kit.announcement(image_id="ee" * 16).to_json_bytes()
    s3.objects[(kit.BUCKET, f"images/{image_id(9)}.jpg")] = b"\xff\xd8\xff\xe0 truncated"
    broken = kit.announcement(image_id=image_id(9)).to_json_bytes()
    values = [values[0], b"{oops", ghost, broken, values[1]]
    loop, consumer, dead, _ = make_loop(values, s3=s3)

    summary = loop.run()

    assert sorted((offset, stage) for offset, stage, _ in dead.sent) == [
        (1, Stage.PARSE),
        (2, Stage.DOWNLOAD),
        (3, Stage.DECODE),
    ]
    assert metadata_keys(s3) == {f"metadata/{image_id(0)}.json", f"metadata/{image_id(1)}.json"}
    assert summary.processed == 2 and summary.dead_lettered == 3
    assert consumer.stored[-1] == ("images", 0, 5)


def test_a_dead_letter_the_broker_did_not_acknowledge_is_retried_before_its_offset_moves(make_loop, kit):
    s3 = kit.FakeS3()
    values = good_messages(kit, s3, 2)
    loop, consumer, dead, _ = make_loop([values[0], b"{oops", values[1]], s3=s3)
    loop.backoff = Backoff(0.001, 0.002)
    failures = iter([TransientError("dead letter not acknowledged"), None])
    publish = dead.publish

    def flaky_publish(ref, stage, reason):
        error = next(failures, None)
        if error is not None:
            assert ("images", 0, 2) not in consumer.stored  # not past offset 1 before it is durable
            raise error
        publish(ref, stage, reason)

    dead.publish = flaky_publish

    summary = loop.run()

    assert [(offset, stage) for offset, stage, _ in dead.sent] == [(1, Stage.PARSE)]
    assert summary.processed == 2 and summary.dead_lettered == 1 and summary.fatal is None
    assert consumer.stored[-1] == ("images", 0, 3)


def test_each_image_publishes_its_detection_event_after_its_metadata_is_written(make_loop, kit):
    s3 = kit.FakeS3()
    loop, consumer, dead, _ = make_loop([*good_messages(kit, s3, 3), b"{oops"], s3=s3)

    summary = loop.run()

    assert summary.processed == 3 and summary.dead_lettered == 1
    assert sorted(image for image, _, _ in loop.events.sent) == [image_id(n) for n in range(3)]
    assert all(written for _, _, written in loop.events.sent)  # metadata first, then the event
    # the fake detector finds one dog per image: the event counts what the record holds
    assert all(counts == {"dog": 1} for _, counts, _ in loop.events.sent)


def test_an_event_the_broker_did_not_acknowledge_is_retried_before_its_offset_moves(make_loop, kit):
    s3 = kit.FakeS3()
    loop, consumer, _, _ = make_loop(good_messages(kit, s3, 2), s3=s3)
    loop.backoff = Backoff(0.001, 0.002)
    failures = iter([TransientError("event not acknowledged"), TransientError("still not"), None])
    publish = loop.events.publish

    def flaky_publish(record):
        error = next(failures, None)
        if error is not None:
            assert not any(position >= 1 for _, _, position in consumer.stored)
            raise error
        publish(record)

    loop.events.publish = flaky_publish

    summary = loop.run()

    assert summary.processed == 2 and summary.fatal is None
    assert len(loop.events.sent) == 2
    assert consumer.stored[-1] == ("images", 0, 2)


def test_shutdown_while_events_cannot_be_sent_hands_the_images_back(make_loop, kit):
    s3 = kit.FakeS3()
    stop = threading.Event()
    loop, consumer, _, _ = make_loop(
        good_messages(kit, s3, 3), s3=s3, stop=stop, limits=RunLimits(), backoff=Backoff(0.02, 0.05)
    )

    def broker_down(record):
        raise TransientError("broker unreachable")

    loop.events.publish = broker_down
    threading.Timer(0.3, stop.set).start()

    summary = loop.run()

    assert summary.handed_back == 3 and summary.processed == 0
    assert consumer.stored == []  # metadata is in S3, but the offsets wait for the events


def test_kafka_errors_in_the_stream_are_logged_and_skipped(make_loop, kit, caplog):
    s3 = kit.FakeS3()
    loop, consumer, _, _ = make_loop(good_messages(kit, s3, 1), s3=s3)
    consumer.messages.insert(0, kit.FakeMessage(None, -1, error=KafkaError(KafkaError._TRANSPORT, "broker gone")))

    summary = loop.run()

    assert summary.processed == 1
    assert "broker gone" in caplog.text


def test_max_messages_stops_polling(make_loop, kit):
    s3 = kit.FakeS3()
    loop, consumer, _, _ = make_loop(good_messages(kit, s3, 5), s3=s3, limits=RunLimits(max_messages=2))

    summary = loop.run()

    assert summary.polled == 2 and summary.processed == 2
    assert len(consumer.messages) == 3
    assert consumer.stored[-1] == ("images", 0, 2)


def test_shutdown_finishes_what_is_in_flight_and_commits(make_loop, kit):
    s3 = kit.FakeS3()
    stop = threading.Event()
    loop, consumer, _, _ = make_loop(good_messages(kit, s3, 40), s3=s3, stop=stop, limits=RunLimits())
    consumer.on_store = lambda topic, partition, position: position >= 5 and stop.set()  # like SIGTERM

    summary = loop.run()

    assert summary.stopped_by == "shutdown requested"
    assert 0 < summary.processed < 40
    # everything polled was finished, and exactly that is stored
    assert summary.processed == summary.polled
    assert consumer.stored[-1] == ("images", 0, summary.polled)
    assert consumer.commits >= 1


def test_shutdown_during_an_outage_hands_messages_back_without_storing(make_loop, kit):
    from botocore.exceptions import EndpointConnectionError

    s3 = kit.FakeS3()
    values = good_messages(kit, s3, 3)
    s3.failures = [EndpointConnectionError(endpoint_url="http://s3")] * 10_000
    stop = threading.Event()
    loop, consumer, dead, _ = make_loop(values, s3=s3, stop=stop, limits=RunLimits(), backoff=Backoff(0.02, 0.05))
    threading.Timer(0.3, stop.set).start()

    summary = loop.run()

    assert summary.handed_back == 3 and summary.processed == 0
    assert consumer.stored == [] and dead.sent == []


def test_a_long_s3_stall_pauses_the_partitions_and_keeps_polling(make_loop, kit):
    """A full window must not stop the polling (max.poll.interval.ms would evict the
    consumer and its work would be redone): the partitions are paused, poll goes on,
    and they are resumed once there is room, with every message processed once."""
    from botocore.exceptions import EndpointConnectionError

    s3 = kit.FakeS3()
    values = good_messages(kit, s3, 8)
    s3.failures = [EndpointConnectionError(endpoint_url="http://s3")] * 40  # every download retried a while
    loop, consumer, dead, _ = make_loop(
        values, s3=s3, backoff=Backoff(0.02, 0.05), prefetch=2, pause_after_s=0.05, poll_timeout_s=0.02
    )

    summary = loop.run()

    assert summary.pauses >= 1 and consumer.pauses >= 1 and consumer.resumes >= 1
    assert consumer.polls_while_paused > 0
    assert summary.processed == 8 and summary.polled == 8 and dead.sent == []
    assert consumer.stored[-1] == ("images", 0, 8)


def test_a_partition_lost_while_paused_is_resumed_when_it_comes_back(make_loop, kit):
    """Kafka restarted during an S3 stall: the paused partition is lost and assigned again.
    librdkafka keeps it paused through that, so the loop resumes it as it goes; else it
    would come back stuck and nothing after the stall would be processed."""
    from botocore.exceptions import EndpointConnectionError

    s3 = kit.FakeS3()
    values = good_messages(kit, s3, 8)
    s3.failures = [EndpointConnectionError(endpoint_url="http://s3")] * 40
    loop, consumer, dead, _ = make_loop(
        values,
        s3=s3,
        backoff=Backoff(0.02, 0.05),
        prefetch=2,
        pause_after_s=0.05,
        poll_timeout_s=0.02,
        lose_while_paused=True,
    )

    summary = loop.run()

    assert not consumer.lose_while_paused  # the partition was lost while paused
    assert metadata_keys(s3) == {f"metadata/{image_id(n)}.json" for n in range(8)}
    assert consumer.stored[-1] == ("images", 0, 8) and dead.sent == []
    assert summary.processed >= 8


def test_a_setup_error_stops_the_loop_without_storing_that_offset(make_loop, kit):
    s3 = kit.FakeS3()
    values = good_messages(kit, s3, 3)
    s3.failures = [kit.client_error("AccessDenied", 403)]
    loop, consumer, dead, _ = make_loop(values, s3=s3, limits=RunLimits())

    summary = loop.run()

    assert summary.fatal and "credentials" in summary.fatal
    assert all(position <= 0 for _, _, position in consumer.stored)
    assert dead.sent == []
    assert consumer.commits >= 1


def test_revocation_commits_finished_work_and_drops_the_rest(make_loop, kit):
    s3 = kit.FakeS3()
    loop, consumer, _, _ = make_loop(good_messages(kit, s3, 10), s3=s3, revoke_after=4, prefetch=3)

    summary = loop.run()

    # a commit happened inside the revoke callback, and nothing was stored afterwards
    # for the revoked partition beyond what was finished before it
    assert consumer.commits >= 2
    assert summary.polled < 10
    written = len(metadata_keys(s3))
    assert consumer.stored[-1][2] <= written


def test_idle_timeout_with_an_empty_topic(make_loop):
    loop, consumer, _, _ = make_loop([], limits=RunLimits(idle_timeout_s=0.2))

    summary = loop.run()

    assert summary.polled == 0 and "idle" in summary.stopped_by


def test_idle_timeout_waits_longer_for_a_first_assignment(make_loop):
    loop, consumer, _, _ = make_loop([], limits=RunLimits(idle_timeout_s=0.1))
    consumer._assigned = True  # this fake consumer never calls on_assign
    loop.join_grace_s = 0.3
    started = time.monotonic()

    summary = loop.run()

    assert "no partitions assigned within 0.4 s" in summary.stopped_by
    assert time.monotonic() - started >= 0.4
