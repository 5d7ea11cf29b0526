"""Faults on the real local services (issue 8, item 7): Kafka killed with SIGKILL and
restarted while a producer and two consumers run; S3 killed while a consumer works.
Every image must end with exactly one metadata object, none lost, and the outage must
not turn into dead letters.

These kill services, so they run only on a stack of the session's own
(PIPELINE_SERVICES=isolated, the second pytest run of `make test`): the process killed is
the one whose pid file is in that stack's folder, and it is started again
(`local_services up <name>`) whatever the test's outcome. Each takes a minute or two
(marked `fault` and `slow`)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from pipeline_common.contracts import parse_detection_event
from pipeline_common.environment import PROJECT_ROOT

from .conftest import photo_variants, read_topic

pytestmark = [pytest.mark.fault, pytest.mark.slow]
DEADLINE_S = 300  # a fault test that does not recover fails, it does not hang


def wait_until(condition, what: str, processes=(), timeout_s: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        for process in processes:
            if process.poll() is not None:
                pytest.fail(
                    f"{what}: a process exited ({process.returncode}) before:\n"
                    + Path(process.log_path).read_text()[-3000:]
                )
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout_s:.0f} s")
        time.sleep(0.5)


def log_of(process) -> str:
    return Path(process.log_path).read_text()


def stop(processes) -> list[int]:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    return [process.wait(timeout=90) for process in processes]


def tally(expected_ids: set[str], metadata, events) -> dict[str, int]:
    """Images sent, metadata written, lost, and processed more than once (an image whose
    detection event was published twice was detected twice; its one metadata object was
    rewritten)."""
    keys = set(metadata())
    per_image = Counter(event.image_id for event in events)
    return {
        "sent": len(expected_ids),
        "metadata": len(keys),
        "lost": len({f"metadata/{i}.json" for i in expected_ids} - keys),
        "processed twice": sum(1 for count in per_image.values() if count > 1),
    }


def test_kafka_killed_and_restarted_while_a_producer_and_two_consumers_run(
    own_service,
    consumer_env,
    start_consumer,
    metadata,
    metadata_count,
    dead_letters,
    group_lag,
    kafka_settings,
    topics,
    tmp_path,
    bucket,
    processes,
):
    kafka = own_service("kafka")
    new_pics, frames = tmp_path / "new_pics" / "door", tmp_path / "frames"
    new_pics.mkdir(parents=True)
    photos = [(f"{n:02d}-{name}", data) for n, (name, data) in enumerate(photo_variants(24, salt=bucket))]
    before, during = photos[:12], photos[12:]  # dropped in before the outage, and during it
    for name, data in before:
        (new_pics / name).write_bytes(data)
    one_thread = {"DETECTOR_THREADS": "1"}  # slow enough that the outage hits them mid-work
    consumers = [start_consumer(**one_thread), start_consumer(**one_thread)]
    wait_until(lambda: all("consuming" in log_of(c) for c in consumers), "the consumers to start", consumers)

    producer_log = (tmp_path / "producer.log").open("w")
    producer = processes.start(
        [sys.executable, "-m", "producer", "watch", "--no-progress"],
        cwd=PROJECT_ROOT,
        stdout=producer_log,
        stderr=subprocess.STDOUT,
        env={
            **consumer_env,
            "PRODUCER_NEW_PICS_DIR": str(new_pics.parent),
            "PRODUCER_FRAMES_DIR": str(frames),
            "PRODUCER_CREATE_TOPIC": "false",
            "PRODUCER_WATCH_SETTLE_S": "0.2",
        },
    )
    producer.log_path = tmp_path / "producer.log"
    everyone = [*consumers, producer]
    wait_until(lambda: metadata_count() >= 3, "the first images to be processed", everyone)

    kafka.kill()  # SIGKILL, mid-work: nothing flushed, nothing handed over
    for name, data in during:  # the producer takes them in while the broker is down
        (new_pics / name).write_bytes(data)
    wait_until(lambda: len(list(frames.glob("*.jpg"))) == len(photos), "the producer to prepare them", everyone)
    kafka.start()

    sent = {frame.stem for frame in frames.glob("*.jpg")}  # the producer's frames, named by image id
    wait_until(lambda: metadata_count() >= len(sent), "every image's metadata", everyone)
    wait_until(lambda: group_lag() == 0, "the consumers to commit", everyone)
    codes = stop([*consumers, producer])

    events = [parse_detection_event(v) for v in read_topic(kafka_settings, topics[2], timeout_s=DEADLINE_S)]
    counts = tally(sent, metadata, events)
    print(f"\nKafka SIGKILL: {counts}")
    assert codes == [0, 0, 0], [log_of(p)[-2000:] for p in everyone]
    assert "announced and acknowledged" in log_of(producer)
    assert set(metadata()) == {f"metadata/{i}.json" for i in sent}  # exactly one object per image
    assert counts["lost"] == 0
    assert dead_letters(timeout_s=DEADLINE_S) == []  # returns as soon as what the topic holds is read


def test_s3_killed_while_the_consumer_works_gives_no_dead_letters_and_it_resumes(
    own_service,
    upload,
    announce,
    start_consumer,
    metadata,
    metadata_count,
    dead_letters,
    group_lag,
    kafka_settings,
    topics,
    bucket,
):
    s3 = own_service("s3")
    goods = [upload(data) for _, data in photo_variants(16, salt=bucket)]
    announce([g.to_json_bytes() for g in goods])
    consumer = start_consumer(DETECTOR_THREADS="1")
    wait_until(lambda: metadata_count() >= 2, "the first images to be processed", [consumer])

    s3.kill()
    time.sleep(10)  # downloads and writes fail meanwhile: retried, never dead-lettered
    assert consumer.poll() is None, log_of(consumer)
    s3.start()

    wait_until(lambda: metadata_count() >= len(goods), "every image's metadata", [consumer])
    wait_until(lambda: group_lag() == 0, "the consumer to commit", [consumer])
    [code] = stop([consumer])

    events = [parse_detection_event(v) for v in read_topic(kafka_settings, topics[2], timeout_s=DEADLINE_S)]
    counts = tally({g.image_id for g in goods}, metadata, events)
    print(f"\nS3 SIGKILL: {counts}")
    assert code == 0, log_of(consumer)[-3000:]
    assert counts["lost"] == 0 and counts["metadata"] == len(goods)
    assert "retrying" in log_of(consumer)  # the outage was seen, and waited out
    assert dead_letters(timeout_s=DEADLINE_S) == []
