"""`detection-archiver compact` on the real S3: a closed hour's small files become one file
holding every distinct event; the open hours are left alone; a full recount gives the same
lines before, during (an interrupted compaction) and after; running it again changes
nothing; a file that arrives late in a compacted hour is merged the next time; an hour with
an unreadable file is left as it is."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from archiver import cli as archiver_cli
from archiver.compact import compact, compact_hour
from hadoop import cli as hadoop_cli
from pipeline_common.contracts import DetectionEvent
from pipeline_common.contracts.detection_archive import decode_file, encode_file, hour_prefix, part_key
from pipeline_common.output_runs import SUCCESS_MARKER
from pipeline_common.s3 import delete_prefix, list_keys
from pipeline_common.s3_reader import S3ObjectReader

NOW = datetime.now(timezone.utc).replace(microsecond=0)
OLD = (NOW - timedelta(hours=30)).replace(minute=0, second=0)  # closed hours
OTHER = OLD + timedelta(hours=1)


def event(number: int, processed_at: datetime) -> bytes:
    counts = {"person": number % 3 + 1, "car": number % 2} if number % 5 else {}
    return DetectionEvent(
        f"{number:032x}",
        f"cam-{number % 2}",
        OLD - timedelta(minutes=number),
        processed_at,
        "yolov4-tiny",
        {label: count for label, count in counts.items() if count},
    ).to_json_bytes()


class Archive:
    def __init__(self, s3, settings, tmp_path):
        self.s3, self.settings, self.bucket = s3, settings, settings.bucket
        self.root = f"it-compact-{uuid.uuid4().hex[:10]}/"
        self.prefix = f"{self.root}detections/"
        self.tmp_path = tmp_path
        self.offset = 0
        self.runs = 0
        self.reader = S3ObjectReader(settings)

    def write(self, hour: datetime, lines: list[bytes], partition: int = 0) -> str:
        key = part_key(self.prefix, hour, partition, self.offset)
        self.offset += len(lines)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=encode_file(lines))
        return key

    def files(self, hour: datetime) -> dict[str, str]:
        folder = hour_prefix(self.prefix, hour)
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=folder)
        return {item["Key"]: item["ETag"] for page in pages for item in page.get("Contents", [])}

    def lines(self, hour: datetime) -> list[bytes]:
        return sorted(
            line
            for key in self.files(hour)
            for line in decode_file(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        )

    def compact(self, **options):
        return compact(self.s3, self.reader.get, self.bucket, self.prefix, NOW, progress=False, **options)

    def recount(self) -> list[str]:
        """A full recount's lines (-r inline)."""
        self.runs += 1
        run_id = (NOW + timedelta(seconds=self.runs)).strftime("%Y%m%dT%H%M%SZ")
        out = f"{self.root}out/"
        code = hadoop_cli.main(
            ["-r", "inline", "--full", "--archive-prefix", self.prefix, "--output-prefix", out, "--run-id", run_id]
        )
        assert code == 0
        keys = list(list_keys(self.s3, self.bucket, f"{out}{run_id}/"))
        assert f"{out}{run_id}/{SUCCESS_MARKER}" in keys
        found = []
        for key in keys:
            if key.rsplit("/", 1)[-1].startswith("part-"):
                found += self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode().splitlines()
        return sorted(found)


@pytest.fixture
def archive(s3, s3_settings, tmp_path):
    made = Archive(s3, s3_settings, tmp_path)
    yield made
    made.reader.close()
    delete_prefix(s3, s3_settings.bucket, made.root)


@pytest.fixture
def history(archive):
    """Two closed hours of small files (an event in two files, as the archiver's batch read
    again after a crash and a backfill leave; an image processed twice), and the open hour."""
    first = [event(n, OLD + timedelta(minutes=n)) for n in range(40)]
    for start in range(0, 40, 8):
        archive.write(OLD, first[start : start + 8], partition=start // 8 % 2)
    archive.write(OLD, [first[3], event(3, OLD + timedelta(minutes=50))], partition=1)  # again, and processed again
    second = [event(n, OTHER + timedelta(minutes=n % 60)) for n in range(40, 70)]
    for start in range(0, 30, 10):
        archive.write(OTHER, second[start : start + 10])
    archive.write(NOW, [event(n, NOW) for n in range(70, 75)])
    archive.write(NOW, [event(n, NOW) for n in range(75, 80)], partition=1)
    return archive


def test_closed_hours_become_one_file_with_the_same_counts(history):
    before_lines = {hour: history.lines(hour) for hour in (OLD, OTHER, NOW)}
    open_files = history.files(NOW)
    expected = history.recount()

    report = history.compact()

    assert report.hours_compacted == 2 and report.files_read == 6 + 3 and report.files_written == 2
    assert report.files_deleted == 9 and not report.unreadable and not report.kept
    for hour in (OLD, OTHER):
        (key,) = history.files(hour)
        assert key.rsplit("/", 1)[-1].startswith("compact-")
        assert history.lines(hour) == sorted(set(before_lines[hour]))  # every distinct event, once
    assert len(history.lines(OLD)) == 41  # 40 images, one of them processed twice
    assert history.files(NOW) == open_files  # the open hour is the archiver's
    assert history.recount() == expected

    listed = {hour: history.files(hour) for hour in (OLD, OTHER, NOW)}
    again = history.compact()
    assert again.hours_compacted == 0 and again.files_deleted == 0
    assert {hour: history.files(hour) for hour in (OLD, OTHER, NOW)} == listed


def test_an_interrupted_compaction_loses_and_duplicates_nothing(history):
    expected = history.recount()
    sources = history.files(OLD)
    folder = hour_prefix(history.prefix, OLD)

    interrupted = compact_hour(history.s3, history.reader.get, history.bucket, folder, delete=False)

    assert interrupted.files_written == 1 and interrupted.files_deleted == 0
    during = history.files(OLD)
    assert set(sources) < set(during) and len(during) == len(sources) + 1  # compacted file beside its sources
    assert history.recount() == expected  # an image counts once, whichever file holds its event

    history.compact()
    (key,) = history.files(OLD)
    assert key in during  # the same name (and content) as the interrupted run wrote
    assert history.recount() == expected


def test_a_late_file_in_a_compacted_hour_is_merged_next_time(history):
    history.compact()
    (old_key,) = history.files(OLD)
    late = [event(n, OLD + timedelta(minutes=59)) for n in range(100, 104)]
    history.write(OLD, late, partition=2)
    with_late = history.recount()

    report = history.compact()

    assert report.hours_compacted == 1 and report.files_read == 2 and report.files_deleted == 2
    (key,) = history.files(OLD)
    assert key != old_key and set(late) <= set(history.lines(OLD)) and len(history.lines(OLD)) == 45
    assert history.recount() == with_late


def test_an_hour_with_an_unreadable_file_is_left_alone(history):
    history.s3.put_object(
        Bucket=history.bucket,
        Key=f"{hour_prefix(history.prefix, OTHER)}part-00009-00000000000000000000.jsonl.gz",
        Body=b"not gzip",
    )
    before = history.files(OTHER)

    report = history.compact()

    assert report.hours_compacted == 1 and len(report.unreadable) == 1  # OLD compacted, OTHER not
    assert history.files(OTHER) == before


def test_the_command(history, monkeypatch, capsys):
    monkeypatch.setenv("DETECTIONS_ARCHIVE_PREFIX", history.prefix)
    assert archiver_cli.main(["compact", "--no-progress"]) == 0
    assert len(history.files(OLD)) == 1 and len(history.files(OTHER)) == 1 and len(history.files(NOW)) == 2
    # nothing is old enough with a minimum age of two days
    history.write(OLD, [event(200, OLD)])
    assert archiver_cli.main(["compact", "--no-progress", "--min-age-hours", "48"]) == 0
    assert len(history.files(OLD)) == 2
    assert json.loads(history.lines(OLD)[0])  # still events
