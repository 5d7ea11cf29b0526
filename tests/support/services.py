"""Helpers for the integration tests over the real services: clean-up of what a test
created, and the processes it started."""
from __future__ import annotations

import subprocess

from confluent_kafka import Consumer, TopicPartition

from pipeline_common.s3 import delete_prefix


def delete_bucket(s3, name: str) -> None:
    """Empty a test's own bucket and delete it."""
    delete_prefix(s3, name, "")
    s3.delete_bucket(Bucket=name)


class Processes:
    """The processes one test started (`start` takes subprocess.Popen's arguments);
    `kill_all` ends those still running, after the test."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def __len__(self) -> int:
        return len(self.started)

    def start(self, command: list[str], **popen) -> subprocess.Popen:
        process = subprocess.Popen(command, **popen)
        self.started.append(process)
        return process

    def kill_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def consumer_lag(kafka_settings, group: str, topic: str) -> int:
    """Messages on `topic` (all its partitions) that consumer group `group` has not committed."""
    probe = Consumer({**kafka_settings.client_config(), "group.id": group, "enable.auto.commit": False})
    try:
        partitions = probe.list_topics(topic, timeout=10).topics[topic].partitions
        total = 0
        for tp in probe.committed([TopicPartition(topic, p) for p in partitions], timeout=10):
            low, high = probe.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)
            total += high - (tp.offset if tp.offset >= 0 else low)
        return total
    finally:
        probe.close()
