"""Aggregation over the detection archive on the real S3: the archive rebuilt from the
metadata counts exactly as the metadata does; incremental runs read only the files of the
new hours and equal a full recount, on the inline, local and Hadoop runners; an image
processed again counts once."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from archiver.backfill import backfill
from pipeline_common.contracts import MetadataRecord, detection_event_from_record
from pipeline_common.contracts.detection_archive import encode_file, part_key
from pipeline_common.s3_reader import S3ObjectReader
from tests.support.aggregation import AggregationRuns, metadata_record as record


class Space(AggregationRuns):
    """Runs over the archive, which a test writes to as the archiver would."""

    def __init__(self, s3, s3_settings, prefix: str, summary_dir):
        super().__init__(s3, s3_settings.bucket, prefix, summary_dir, "archive")
        self.settings = s3_settings
        self.offset = 0

    def archive(self, records, partition: int = 0, hour: datetime | None = None) -> str:
        """A file as the archiver writes it, for these records' events, in `hour` (default now)."""
        events = [detection_event_from_record(MetadataRecord.from_dict(data)).to_json_bytes() for data in records]
        key = part_key(f"{self.prefix}detections/", hour or datetime.now(timezone.utc), partition, self.offset)
        self.offset += len(events)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=encode_file(events))
        return key


@pytest.fixture(scope="module")
def space(s3, s3_settings, tmp_path_factory):
    made = Space(s3, s3_settings, f"it-archive-{uuid.uuid4().hex[:10]}/", tmp_path_factory.mktemp("summaries"))
    yield made
    made.delete_all()


@pytest.fixture(scope="module")
def history(space):
    """60 images' metadata, two hours of processing (and a record the job cannot read),
    turned into the archive by the backfill."""
    space.write_metadata([record(n, processed_at=f"2026-11-28T{14 + n % 2}:00:00Z") for n in range(1, 61)])
    space.s3.put_object(Bucket=space.bucket, Key=f"{space.prefix}metadata/broken.json", Body=b"{not json")
    reader = S3ObjectReader(space.settings)
    report = backfill(
        space.s3, reader.get, space.bucket, f"{space.prefix}metadata/", f"{space.prefix}detections/", progress=False
    )
    reader.close()
    return report


def test_the_backfilled_archive_counts_as_the_metadata(space, history):
    assert history.listed == 61 and history.events == 60 and history.bad == {"invalid JSON": 1}
    assert len(history.files) == 2  # one per hour of processing
    from_metadata, metadata_summary = space.run("meta", "--source", "metadata", "--full")
    from_archive, archive_summary = space.run("arch", "--full")
    assert archive_summary["source"] == "archive" and archive_summary["objects_read"] == 2
    assert space.lines("arch", from_archive) == space.lines("meta", from_metadata)
    assert metadata_summary["bad_records"] == 1 and archive_summary["bad_records"] == 0


@pytest.fixture(scope="module")
def chain(space, history, hadoop_home):
    """A first run, then increments of new archive files (one on -r local, one on -r hadoop),
    a run with nothing new; each followed by a full recount."""
    steps = []
    first, summary = space.run("inc")
    steps.append((first, summary, space.full_recount()))
    space.archive([record(n, processed_at="2026-12-01T10:00:00Z") for n in range(61, 81)], partition=0)
    space.archive([record(n, processed_at="2026-12-01T10:00:00Z") for n in range(81, 91)], partition=1)
    second, summary = space.run("inc", "-r", "local")
    steps.append((second, summary, space.full_recount()))
    space.archive([record(n, processed_at="2026-12-01T11:00:00Z") for n in range(91, 101)], partition=0)
    third, summary = space.run("inc", "-r", "hadoop", "--hadoop-home", str(hadoop_home))
    steps.append((third, summary, space.full_recount()))
    fourth, summary = space.run("inc")
    steps.append((fourth, summary, space.full_recount()))
    return steps


def test_increments_read_only_the_new_files_and_equal_a_full_recount(space, chain):
    previous = None
    for number, (run_id, summary, recount) in enumerate(chain):
        lines = space.lines("inc", run_id)
        assert lines == recount, f"run {number + 1} ({summary['mode']}) differs from a full recount"
        if number:
            assert summary["mode"] == "incremental" and summary["base_run"] == chain[number - 1][0]
        if number in (1, 2):
            assert lines != previous
        previous = lines
    assert [summary["objects_read"] for _, summary, _ in chain] == [2, 2, 1, 0]
    # the incremental runs list only the recent hours: never the backfilled history's
    assert [summary["objects_listed"] for _, summary, _ in chain][1:] == [2, 3, 3]


def test_an_image_processed_again_counts_once_as_its_latest_event(space, chain):
    # image 70, counted by an earlier run, processed again with another result
    again = record(70, processed_at="2026-12-01T12:00:00Z", labels=["zebra", "zebra"])
    space.archive([again, record(101, processed_at="2026-12-01T12:00:00Z")], partition=1)
    run_id, summary = space.run("inc")
    assert summary["mode"] == "full" and "processed again" in summary["reason"]
    lines = space.lines("inc", run_id)
    assert lines == space.full_recount()
    assert any('"label":"zebra"' in line and '"detections":2' in line for line in lines)
    # two events of one new image within the new files: an increment that counts the latest
    space.archive([record(102, labels=["car"]), record(102, processed_at="2026-12-02T00:00:00Z", labels=["dog"])])
    run_id, summary = space.run("inc")
    assert summary["mode"] == "incremental"
    assert summary["counters"]["records"]["replaced by a later event of the image"] == 1
    assert space.lines("inc", run_id) == space.full_recount()
    # and the archive's counts are still the metadata's, once the metadata says the same
    space.write_metadata(
        [
            again,
            record(101, processed_at="2026-12-01T12:00:00Z"),
            record(102, processed_at="2026-12-02T00:00:00Z", labels=["dog"]),
            *[record(n, processed_at="2026-12-01T10:00:00Z") for n in range(61, 100) if n != 70],
            record(100, processed_at="2026-12-01T11:00:00Z"),
        ]
    )
    from_metadata, _ = space.run("meta", "--source", "metadata", "--full")
    assert space.lines("inc", run_id) == space.lines("meta", from_metadata)


def test_a_rewritten_archive_file_makes_the_run_a_full_recount(space, chain):
    key = space.archive([record(200)])
    space.run("inc")
    space.s3.put_object(
        Bucket=space.bucket,
        Key=key,
        Body=encode_file(
            [detection_event_from_record(MetadataRecord.from_dict(record(200, labels=["kite"]))).to_json_bytes()]
        ),
    )
    run_id, summary = space.run("inc")
    assert summary["mode"] == "full" and "rewritten" in summary["reason"]
    assert space.lines("inc", run_id) == space.full_recount()
