"""The ledgers: what Kafka acknowledged, and which originals were prepared."""

from __future__ import annotations

import json

from producer.state import PREPARED_FILE, PUBLISHED_FILE, PreparedLedger, PublishedLedger

A, B, C = "a" * 32, "b" * 32, "c" * 32


def test_acknowledgements_survive_a_restart(tmp_path):
    ledger = PublishedLedger.in_folder(tmp_path, "bucket", "images")
    ledger.record(A, partition=1, offset=7)
    ledger.record(A, partition=1, offset=7)  # recorded once only

    reopened = PublishedLedger.in_folder(tmp_path, "bucket", "images")

    assert A in reopened and B not in reopened
    lines = (tmp_path / PUBLISHED_FILE).read_text().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert (entry["image_id"], entry["partition"], entry["offset"]) == (A, 1, 7)
    assert entry["acknowledged_at"].endswith("Z")


def test_acknowledgements_count_per_bucket_and_topic(tmp_path):
    PublishedLedger.in_folder(tmp_path, "bucket", "images").record(A, 0, 0)
    assert A not in PublishedLedger.in_folder(tmp_path, "bucket", "other-topic")
    assert A not in PublishedLedger.in_folder(tmp_path, "other-bucket", "images")


def test_a_line_cut_by_a_crash_is_ignored(tmp_path, caplog):
    ledger = PublishedLedger.in_folder(tmp_path, "bucket", "images")
    ledger.record(A, 0, 0)
    with open(tmp_path / PUBLISHED_FILE, "a") as handle:
        handle.write('{"image_id": "' + B)  # no end: the process died mid-write
    reopened = PublishedLedger.in_folder(tmp_path, "bucket", "images")
    assert A in reopened and B not in reopened
    assert "not JSON" in caplog.text

    reopened.record(C, 0, 1)  # appending after the cut line still works
    assert C in PublishedLedger.in_folder(tmp_path, "bucket", "images")


def test_prepared_ledger(tmp_path):
    ledger = PreparedLedger.in_folder(tmp_path)
    assert ledger.frames_of("k1") is None
    ledger.record("k1", "cam/one.jpg", [A, B])
    assert PreparedLedger.in_folder(tmp_path).frames_of("k1") == [A, B]
    assert (tmp_path / PREPARED_FILE).exists()
