"""When a consuming stage's run ends (pipeline_common.kafka), the rule the consumer, the
live indexer and the archiver share."""

from __future__ import annotations

import threading

import pytest
from confluent_kafka import KafkaError, TopicPartition

from pipeline_common.kafka import RunLimits, RunOutcome, RunWatch, check_polled_error, partition_names


def test_nothing_ends_a_run_without_limits():
    watch = RunWatch(RunLimits(), threading.Event())
    watch.assigned()
    assert watch.why_stop(received=10**6) is None


def test_a_shutdown_comes_first():
    stop = threading.Event()
    stop.set()
    assert RunWatch(RunLimits(max_messages=1), stop).why_stop(5) == "shutdown requested"


def test_max_messages():
    watch = RunWatch(RunLimits(max_messages=3), threading.Event())
    assert watch.why_stop(2) is None
    assert watch.why_stop(3) == "--max-messages 3 reached"


def test_idleness_counts_only_once_partitions_were_assigned():
    watch = RunWatch(RunLimits(idle_timeout_s=0), threading.Event(), "event")
    assert watch.why_stop(0) is None  # the group was not joined yet: the topic was not read
    watch.assigned()
    assert watch.why_stop(0) == "no event for 0 s (--idle-timeout)"


def test_the_first_reason_noted_stays():
    outcome = RunOutcome()
    assert not outcome.stop_for(None) and outcome.stopped_by == ""
    assert outcome.stop_for("shutdown requested") and outcome.stop_for("--max-messages 3 reached")
    assert outcome.stopped_by == "shutdown requested"
    outcome.stop_fatal(RuntimeError("S3 refused"))
    assert outcome.stopped_by == "fatal error" and outcome.fatal == "S3 refused"


class Fatal(RuntimeError):
    pass


@pytest.mark.parametrize("code", [KafkaError._AUTHENTICATION, KafkaError.TOPIC_AUTHORIZATION_FAILED])
def test_a_refusal_polled_stops_the_stage(code):
    with pytest.raises(Fatal, match="Kafka"):
        check_polled_error(KafkaError(code), Fatal)


@pytest.mark.parametrize("code", [KafkaError._PARTITION_EOF, KafkaError._TRANSPORT])
def test_other_polled_errors_are_left_to_librdkafka(code):
    check_polled_error(KafkaError(code), Fatal)


def test_partition_names():
    assert partition_names([TopicPartition("t", 0), TopicPartition("t", 2, 7)]) == "t/0, t/2@7"
    assert partition_names([]) == "nothing"
