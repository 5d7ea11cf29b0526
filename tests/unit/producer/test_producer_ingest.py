"""watch's ingest: what failed for a reason that may pass is retried in-process with
backoff; what failed for good is reported; nothing kept per image grows with the run."""

from __future__ import annotations

from botocore.exceptions import EndpointConnectionError
from confluent_kafka import KafkaError
from PIL import Image

from producer import ingest as ingest_module
from producer.announce import Announcer
from producer.ingest import Ingest, RetryPolicy
from producer.publish import Publisher
from producer.state import PublishedLedger


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def originals(settings, pictures, count):
    paths = []
    for seed in range(count):
        path = settings.new_pics_dir / f"p{seed}.png"
        Image.fromarray(pictures.gradient(40 + seed, 30)).save(path)
        paths.append(path)
    return paths


def make_ingest(settings, s3, producer, clock):
    ledger = PublishedLedger.in_folder(settings.frames_dir, "bucket", "images")
    publisher = Publisher(s3, "bucket", Announcer(producer, "images", ledger))
    return Ingest(settings, publisher, RetryPolicy(initial_s=1, maximum_s=8), clock=clock)


def run_for(ingest, clock, seconds, step=0.5):
    for _ in range(int(seconds / step)):
        clock.now += step
        ingest.idle(0.01)


def test_announcements_kafka_did_not_acknowledge_are_sent_again_in_process(settings, pictures, fake_s3, fake_producer):
    producer, clock = fake_producer(fail_with="Local: Broker transport failure"), Clock()
    ingest = make_ingest(settings, fake_s3, producer, clock)
    ingest.handle(originals(settings, pictures, 3))
    run_for(ingest, clock, 3)  # Kafka down: each tried again, with longer waits
    assert ingest.acknowledged == 0 and ingest.waiting == 3 and ingest.failed == 0

    producer.fail_with = None  # Kafka is back
    run_for(ingest, clock, 10)

    assert ingest.acknowledged == 3 and ingest.waiting == 0 and ingest.failed == 0
    assert len(producer.delivered) == 3  # once each
    report = ingest.finish(1)
    assert report.ok and report.announced == 3


def test_uploads_are_tried_again_once_s3_answers(settings, pictures, fake_s3, fake_producer):
    producer, clock = fake_producer(), Clock()
    fake_s3.fail_puts_with = EndpointConnectionError(endpoint_url="http://s3")
    ingest = make_ingest(settings, fake_s3, producer, clock)
    ingest.handle(originals(settings, pictures, 3))
    run_for(ingest, clock, 2)
    assert ingest.waiting == 3 and fake_s3.puts == []

    fake_s3.fail_puts_with = None
    run_for(ingest, clock, 10)

    assert len(fake_s3.puts) == 3 and ingest.acknowledged == 3 and ingest.waiting == 0
    assert ingest.finish(1).ok


def test_the_wait_between_tries_grows_to_its_maximum():
    policy = RetryPolicy(initial_s=1, maximum_s=8)
    assert [round(policy.delay(n) / (min(2 ** (n - 1), 8))) for n in range(1, 7)] == [1] * 6


def test_refusals_are_failures_not_retried_and_memory_stays_bounded(
    settings, pictures, fake_s3, fake_producer, monkeypatch
):
    monkeypatch.setattr(ingest_module, "KEPT_FAILURES", 4)
    producer, clock = fake_producer(fail_with=KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)), Clock()
    ingest = make_ingest(settings, fake_s3, producer, clock)
    ingest.handle(originals(settings, pictures, 10))
    run_for(ingest, clock, 5)

    assert ingest.waiting == 0 and ingest.failed == 10 and len(ingest.failures) == 4
    assert producer.queued == [] and len(ingest.publisher.announcer.outcome.failures) == 0
    report = ingest.finish(1)
    assert not report.ok and report.failed == 10 and report.failures_not_listed == 6


def test_acknowledgements_are_counted_not_kept(settings, pictures, fake_s3, fake_producer):
    producer, clock, count = fake_producer(), Clock(), 12
    ingest = make_ingest(settings, fake_s3, producer, clock)
    for path in originals(settings, pictures, count):
        ingest.handle([path])
        run_for(ingest, clock, 0.5)
        assert ingest.publisher.announcer.outcome.acknowledged == []  # logged, counted, dropped

    assert ingest.acknowledged == count
    assert ingest.finish(1).announced == count
