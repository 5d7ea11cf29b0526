"""The consumer as a process, as operators run it: killed with SIGKILL halfway through a
batch and restarted, nothing is lost; stopped with SIGTERM, it finishes, commits, exits 0."""

from __future__ import annotations

import signal
import time

from pipeline_common.contracts import metadata_key

from .conftest import committed_positions, photo_variants

BATCH = 40


def wait_for(condition, timeout_s: float, what: str, process=None) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"consumer exited early ({process.returncode}):\n{process.log_path.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def announce_batch(upload, announce, salt: str):
    announcements = [upload(data) for _, data in photo_variants(BATCH, salt=salt)]
    announce([a.to_json_bytes() for a in announcements])
    return announcements


def test_kill_9_halfway_then_restart_leaves_exactly_one_record_per_image(
    upload, announce, start_consumer, metadata, metadata_count, group_lag, bucket
):
    announcements = announce_batch(upload, announce, salt=bucket)
    first = start_consumer()
    wait_for(lambda: metadata_count() >= 8, 120, "the first records", first)

    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    done_when_killed = metadata_count()
    assert done_when_killed < BATCH, "the consumer finished before it could be killed: nothing was tested"

    # (the killed member holds the group until its 6 s session expires; the idle
    # timeout only starts counting once the restarted consumer has its partitions)
    second = start_consumer("--idle-timeout", "4")
    assert second.wait(timeout=180) == 0, second.log_path.read_text()

    records = metadata()
    assert sorted(records) == sorted(metadata_key(a.image_id) for a in announcements)
    assert all(records[metadata_key(a.image_id)].image_path == a.image_path for a in announcements)
    assert group_lag() == 0


def test_sigterm_finishes_the_images_in_flight_commits_and_exits_0(
    upload, announce, start_consumer, metadata, metadata_count, kafka_settings, consumer_env, topics, bucket
):
    announce_batch(upload, announce, salt=bucket)
    process = start_consumer()
    wait_for(lambda: metadata_count() >= 5, 120, "the first records", process)

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=60) == 0, process.log_path.read_text()
    log = process.log_path.read_text()
    assert "SIGTERM received" in log
    committed = sum(
        max(0, offset)
        for offset in committed_positions(kafka_settings, consumer_env["KAFKA_CONSUMER_GROUP"], topics[0]).values()
    )
    written = len(metadata())
    # everything it started was finished and committed, and nothing beyond that
    assert 5 <= committed < 40
    assert written == committed
