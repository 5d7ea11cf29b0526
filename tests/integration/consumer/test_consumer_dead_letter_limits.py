"""Dead letters never block a partition (issue 8, item 2), against the real Kafka with the
detector's own account: a huge bad message still gets a dead letter that fits; a
dead-letter topic that is missing stops the consumer at start-up; a dead letter Kafka
refuses for good (not authorised) stops it with the fatal outcome, the bad message
uncommitted, instead of retrying it forever; one refused as too large by the topic's own
limit goes again as the original's hash, and the consumer goes on."""

from __future__ import annotations

import base64
import hashlib
import threading

import pytest
from confluent_kafka.admin import NewTopic

from consumer import app as consumer_app
from consumer.app import run_consumer
from consumer.errors import FatalError
from consumer.loop import RunLimits
from consumer.settings import ConsumerSettings
from pipeline_common.contracts import metadata_key
from pipeline_common.contracts.dead_letter import MAX_DEAD_LETTER_BYTES
from tests.support.services import consumer_lag

from .conftest import (
    env_for,
    photo_variants,
    read_dead_letters,
    read_metadata,
    send_values,
    unique,
    upload_image,
)

# A test that fails must fail, not hang: the consumer is stopped after this long whatever happens
WATCHDOG_S = 90


def run_guarded(settings, detector, idle_timeout_s: float = 3.0):
    """run_consumer with a watchdog: (summary, whether the watchdog had to stop it)."""
    stop = threading.Event()
    watchdog = threading.Timer(WATCHDOG_S, stop.set)
    watchdog.start()
    try:
        summary = run_consumer(settings, RunLimits(idle_timeout_s=idle_timeout_s), stop, detector=detector)
    finally:
        watchdog.cancel()
    return summary, stop.is_set() and summary.stopped_by == "shutdown requested"


def test_a_huge_bad_message_gets_a_dead_letter_that_fits(
    settings, shared_detector, upload, announce, metadata, dead_letters, group_lag, bucket
):
    # 700 KB of text: kept twice (base64 and text) it was a 1.6 MB dead letter, over the
    # producer's 1 MB limit, retried forever with the partition's offset pinned behind it
    huge = b'{"schema_version": 1, "image_id": "' + b"x" * 700_000 + b'"}'
    good = upload(photo_variants(1, salt=bucket)[0][1])
    announce([huge, good.to_json_bytes()])

    summary, hung = run_guarded(settings, shared_detector)

    assert not hung, f"the consumer did not finish by itself: {summary}"
    assert (summary.dead_lettered, summary.processed, summary.fatal) == (1, 1, None)
    [letter] = dead_letters()
    original = letter["original"]
    assert letter["stage"] == "parse"
    assert original["offset"] == 0 and original["partition"] >= 0 and original["topic"] == settings.kafka.images_topic
    assert original["value_length"] == len(huge) and original["value_sha256"] == hashlib.sha256(huge).hexdigest()
    assert huge.startswith(base64.b64decode(original["value_head_base64"]))
    assert len(str(letter)) < MAX_DEAD_LETTER_BYTES * 1.1
    assert metadata_key(good.image_id) in metadata()
    assert group_lag() == 0


def test_a_missing_dead_letter_topic_stops_the_consumer_at_start_up(
    pipeline_env, bucket, topics, grant_kafka, shared_detector
):
    missing = unique("consumer-test-no-such-dead")
    env = env_for(pipeline_env, bucket, topics, grant_kafka)
    grant_kafka(dead_letter_topic=missing)  # its account may see it: it just does not exist
    settings = ConsumerSettings.from_env({**env, "KAFKA_DEAD_LETTER_TOPIC": missing})

    with pytest.raises(FatalError, match=f"topic {missing} does not exist.*KAFKA_DEAD_LETTER_TOPIC"):
        run_guarded(settings, shared_detector)


def test_a_dead_letter_kafka_refuses_for_good_stops_the_consumer_uncommitted(
    settings,
    shared_detector,
    upload,
    announce,
    metadata,
    dead_letters,
    group_lag,
    bucket,
    kafka_admin,
    pipeline_env,
    topics,
):
    from local_services.accounts import acl_bindings
    from local_services.provision import revoke
    from local_services.settings import AccessSettings

    goods = [upload(data) for _, data in photo_variants(2, salt=bucket)]
    announce([goods[0].to_json_bytes()])
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(run=run_guarded(settings, shared_detector, 30)))
    thread.start()
    try:
        deadline = threading.Event()
        for _ in range(120):  # the first image is done: the consumer runs, with its rights
            if metadata_key(goods[0].image_id) in metadata() or deadline.wait(0.5):
                break
        # the detector's account loses the right to write dead letters
        username = AccessSettings.from_env(pipeline_env).detector.username
        revoke(kafka_admin, acl_bindings(username, [("TOPIC", topics[1], "WRITE")]))
        announce([b"not an announcement", goods[1].to_json_bytes()])
    finally:
        thread.join(WATCHDOG_S + 30)
    summary, hung = result["run"]

    assert not hung, f"the consumer kept retrying the refused dead letter: {summary}"
    assert summary.fatal and "dead letter" in summary.fatal and topics[1] in summary.fatal
    # the photo behind the refused message may be processed meanwhile; never committed past it
    assert summary.processed in (1, 2) and summary.dead_lettered == 0
    assert dead_letters(timeout_s=2) == []
    # the refused message and the photo behind it are not committed: read again once fixed
    assert group_lag() == 2


def test_a_dead_letter_over_the_topics_own_size_limit_is_sent_as_its_hash_and_the_consumer_goes_on(
    pipeline_env, bucket, s3, kafka_admin, kafka_settings, grant_kafka, shared_detector
):
    # The dead-letter topic takes at most 64 KiB per message (max.message.bytes, set by
    # whoever created it): a 300 KB bad message's dead letter, cut to the consumer's own
    # 256 KiB limit, is still refused as too large. Once that stopped the consumer on every
    # restart, the partition pinned behind the message for good.
    images, dead, events = unique("consumer-test-images"), unique("consumer-test-dead"), unique("consumer-test-events")
    small = {"max.message.bytes": str(64 * 1024)}
    futures = kafka_admin.create_topics(
        [NewTopic(images, 1, 1), NewTopic(dead, 1, 1, config=small), NewTopic(events, 1, 1)]
    )
    for future in futures.values():
        future.result(timeout=30)
    try:
        settings = ConsumerSettings.from_env(env_for(pipeline_env, bucket, (images, dead, events), grant_kafka))
        big = b"this is no announcement " * 12_500  # 300 000 bytes: its first 190 KB are kept
        good = upload_image(s3, bucket, photo_variants(1, salt=bucket)[0][1])
        send_values(kafka_settings, images, [big, good.to_json_bytes()])

        summary, hung = run_guarded(settings, shared_detector)

        assert not hung, f"the consumer did not finish by itself: {summary}"
        assert (summary.dead_lettered, summary.processed, summary.fatal) == (1, 1, None)
        [letter] = read_dead_letters(kafka_settings, dead)
        original = letter["original"]
        assert letter["stage"] == "parse" and (original["topic"], original["offset"]) == (images, 0)
        assert original["value_length"] == len(big) and original["value_sha256"] == hashlib.sha256(big).hexdigest()
        assert original["value_base64"] is None  # never a cut value taken for the whole
        assert metadata_key(good.image_id) in read_metadata(s3, bucket)
        assert consumer_lag(kafka_settings, settings.group_id, images) == 0
    finally:
        kafka_admin.delete_topics([images, dead, events], operation_timeout=10)


def test_the_command_exits_3_on_a_refused_dead_letter_and_once_the_right_is_back_goes_on(
    start_consumer, upload, announce, metadata, dead_letters, group_lag, bucket, kafka_admin, pipeline_env, topics
):
    from local_services.accounts import acl_bindings
    from local_services.provision import revoke
    from local_services.settings import AccessSettings

    # the detector's account may see the dead-letter topic (the start-up check passes) but not write it
    write = acl_bindings(AccessSettings.from_env(pipeline_env).detector.username, [("TOPIC", topics[1], "WRITE")])
    revoke(kafka_admin, write)
    good = upload(photo_variants(1, salt=bucket)[0][1])
    announce([b"not an announcement", good.to_json_bytes()])

    first = start_consumer("--idle-timeout", "5")
    assert first.wait(timeout=WATCHDOG_S) == 3, first.log_path.read_text()[-3000:]
    log = first.log_path.read_text()
    assert "dead letter" in log and topics[1] in log and "TOPIC_AUTHORIZATION_FAILED" in log
    assert group_lag() == 2 and dead_letters(timeout_s=2) == []  # nothing committed past it

    for future in kafka_admin.create_acls(write, request_timeout=30).values():  # fixed: the right is back
        future.result(timeout=30)
    second = start_consumer("--idle-timeout", "5")
    assert second.wait(timeout=WATCHDOG_S) == 0, second.log_path.read_text()[-3000:]
    [letter] = dead_letters()
    assert letter["stage"] == "parse" and letter["original"]["offset"] == 0
    assert metadata_key(good.image_id) in metadata()
    assert group_lag() == 0


def test_a_dead_letter_topic_deleted_while_the_consumer_runs_stops_it_uncommitted(
    settings,
    shared_detector,
    upload,
    announce,
    metadata,
    dead_letters,
    group_lag,
    bucket,
    kafka_admin,
    topics,
    monkeypatch,
):
    # Once the consumer has sent a dead letter, librdkafka reports a later one to the topic,
    # deleted meanwhile, as timed out (message.timeout.ms) until its metadata says the topic
    # is gone (topic.metadata.propagation.max.ms, 30 s), then as "unknown partition": the
    # timeout is retried, the unknown partition stops the consumer. A shorter message
    # timeout than the consumer's 30 s makes both happen in one run, and quickly.
    monkeypatch.setattr(consumer_app, "DELIVERY_TIMEOUT_MS", 8_000)
    goods = [upload(data) for _, data in photo_variants(2, salt=bucket)]
    announce([b"not an announcement either", goods[0].to_json_bytes()])
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(run=run_guarded(settings, shared_detector, 60)))
    thread.start()
    try:
        deadline = threading.Event()
        for _ in range(120):  # the first dead letter is sent and the first image done
            if metadata_key(goods[0].image_id) in metadata() or deadline.wait(0.5):
                break
        assert len(dead_letters()) == 1
        for future in kafka_admin.delete_topics([topics[1]], operation_timeout=30).values():
            future.result(timeout=30)
        announce([b"not an announcement", goods[1].to_json_bytes()])
    finally:
        thread.join(WATCHDOG_S + 30)
    summary, hung = result["run"]

    assert not hung, f"the consumer kept retrying the dead letter to a deleted topic: {summary}"
    assert summary.fatal and "dead letter" in summary.fatal and topics[1] in summary.fatal
    assert summary.dead_lettered == 1 and summary.processed in (1, 2)
    assert group_lag() == 2  # the refused message and the photo behind it: read again once fixed
