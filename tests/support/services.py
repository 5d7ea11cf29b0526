"""Helpers for the integration tests over the real services: clean-up of what a test
created, and the processes it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

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


def kafka_round_trip(client_config: dict, kafka_admin, topic: str, group: str, values: list[bytes]) -> list[bytes]:
    """Create `topic`, produce `values` to it (every delivery acknowledged), read them back
    as consumer group `group` (up to 60 s), delete the topic; what was read, in order."""
    kafka_admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    try:
        producer = Producer(client_config)
        delivered = []
        for value in values:
            producer.produce(topic, value=value, on_delivery=lambda error, _m: delivered.append(error))
        assert producer.flush(30) == 0 and delivered == [None] * len(values)
        consumer = Consumer(
            {**client_config, "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False}
        )
        received: list[bytes] = []
        try:
            consumer.subscribe([topic])
            for _ in range(60):
                message = consumer.poll(1.0)
                if message is not None:
                    assert message.error() is None, message.error()
                    received.append(message.value())
                if len(received) == len(values):
                    break
        finally:
            consumer.close()
        return received
    finally:
        kafka_admin.delete_topics([topic])[topic].result(timeout=30)


def local_services_up(env: dict[str, str], names: list[str], running, deadline_s: float) -> None:
    """`python -m local_services up <names>` until it succeeds. Each service's own readiness
    timeout is sized for a quiet machine; a start that outlasts it on a loaded one (or a
    broker recovering its log after SIGKILL) is left running by `up`, and is waited for
    again, until `deadline_s`. Fails at once when nothing of it runs any more."""
    from pipeline_common.environment import PROJECT_ROOT

    deadline = time.monotonic() + deadline_s
    while True:
        result = subprocess.run(
            [sys.executable, "-m", "local_services", "up", *names],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=max(deadline - time.monotonic(), 60),
        )
        if result.returncode == 0:
            return
        output = f"`local_services up {' '.join(names)}` failed (exit code {result.returncode}):\n"
        output += result.stdout + result.stderr[-4000:]
        assert running() and time.monotonic() < deadline, output
        print(f"{output}\nstill starting: waiting again")


class OwnService:
    """One service of the session's own local stack (local_services), for fault tests:
    `kill()` sends SIGKILL to the pid in that stack's pid file (checked against the
    process's command line, so another stack's service is never touched); `start()`
    runs `python -m local_services up <name>` and waits until it is ready again."""

    START_DEADLINE_S = 600  # Elasticsearch takes minutes on a loaded 2-core machine

    def __init__(self, service, env: dict[str, str]):
        self.service, self.env = service, env

    @property
    def name(self) -> str:
        return self.service.name

    def kill(self) -> int:
        pid = self.service.pid()
        assert pid is not None, f"{self.name} is not running from this checkout"
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while self.service.pid() is not None:
            assert time.monotonic() < deadline, f"{self.name} (pid {pid}) did not die"
            time.sleep(0.2)
        return pid

    def start(self) -> None:
        local_services_up(self.env, [self.name], lambda: self.service.pid() is not None, self.START_DEADLINE_S)
