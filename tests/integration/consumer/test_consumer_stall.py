"""A long S3 stall does not get the consumer evicted from its group (issue 8, item 3):
with a short max.poll.interval.ms and one download held up for longer than that, the
consumer pauses its partitions and keeps polling, so nothing is revoked and no image is
read twice. Real Kafka and S3; the stall is injected into the S3 client's downloads."""

from __future__ import annotations

import logging
import threading

import pytest

from consumer.app import run_consumer
from consumer.loop import RunLimits
from pipeline_common.clients import s3_client
from pipeline_common.contracts import metadata_key

from .conftest import photo_variants

POLL_INTERVAL_MS = 10_000  # librdkafka evicts a member that has not polled for this long
STALL_S = 25  # > POLL_INTERVAL_MS


class StalledDownloads:
    """The real S3 client, whose first download of `key` hangs for `stall_s` (a stuck
    connection to a server that has stopped answering)."""

    def __init__(self, inner, key: str, stall_s: float):
        self._inner, self._key, self._stall_s = inner, key, stall_s
        self.stalled = threading.Event()

    def get_object(self, **kwargs):
        if kwargs.get("Key") == self._key and not self.stalled.is_set():
            self.stalled.set()
            threading.Event().wait(self._stall_s)
        return self._inner.get_object(**kwargs)

    def __getattr__(self, name):
        return getattr(self._inner, name)


@pytest.mark.slow
def test_a_stall_longer_than_the_poll_interval_causes_no_rebalance_and_no_redo(
    settings, shared_detector, upload, announce, metadata, dead_letters, group_lag, bucket, caplog
):
    goods = [upload(data) for _, data in photo_variants(8, salt=bucket)]
    announce([g.to_json_bytes() for g in goods])
    short = settings.model_copy(update={"max_poll_interval_ms": POLL_INTERVAL_MS, "prefetch": 3, "workers": 2})
    stalled = StalledDownloads(s3_client(settings.s3), f"images/{goods[0].image_id}.jpg", STALL_S)

    with caplog.at_level(logging.INFO, logger="consumer"):
        summary = run_consumer(
            short, RunLimits(idle_timeout_s=3), threading.Event(), detector=shared_detector, s3=stalled
        )

    assert stalled.stalled.is_set()
    # every image polled once and processed once: nothing revoked, lost or read again
    assert (summary.polled, summary.processed, summary.handed_back, summary.dead_lettered) == (8, 8, 0, 0), summary
    assert summary.pauses >= 1  # it paused rather than stopping to poll
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if m.startswith("lost ") or "poll interval" in m], messages
    assert set(metadata()) == {metadata_key(g.image_id) for g in goods}
    assert dead_letters(timeout_s=2) == []
    assert group_lag() == 0
