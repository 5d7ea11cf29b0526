"""The aggregation job run inline on small local inputs."""

import json
from datetime import datetime, timezone

import pytest

from hadoop.aggregation import merge_counters
from hadoop.object_counts_job import (
    BAD_RECORDS,
    RECORDS,
    TIMESTAMPS,
    BaseTotalsError,
    MRObjectCounts,
    images_of_line,
    is_images_line,
)
from pipeline_common.contracts import Aggregate, Interval, MetadataRecord, detection_event_from_record
from pipeline_common.contracts.detection_archive import decode_file, encode_file


def utc(*parts):
    return datetime(*parts, tzinfo=timezone.utc)


def run_job(tmp_path, lines, *options):
    """Run inline; returns ({(label, source, bucket_start): (detections, images)},
    counters, raw output lines)."""
    path = tmp_path / "input.jsonl"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    job = MRObjectCounts(["-r", "inline", "--no-conf", *options, str(path)])
    with job.make_runner() as runner:
        runner.run()
        raw = b"".join(runner.cat_output()).decode("utf-8").splitlines()
        counters = merge_counters(runner.counters())
    aggregates = [Aggregate.from_line(line) for line in raw if not is_images_line(line.encode())]
    table = {(a.label, a.source, a.bucket_start): (a.detections, a.images) for a in aggregates}
    assert len(table) == len(aggregates), "one line per (label, source, bucket)"
    return table, counters, raw, aggregates


def test_counts_detections_and_images_containing_the_label(tmp_path, make_line):
    lines = [
        make_line(["person", "person", "car"]),
        make_line(["person"]),
        make_line(["dog", "dog", "dog"]),
        make_line([]),
    ]
    table, counters, _, _ = run_job(tmp_path, lines)
    hour = utc(2026, 11, 28, 10)
    assert table == {
        ("person", "front-door", hour): (3, 2),
        ("car", "front-door", hour): (1, 1),
        ("dog", "front-door", hour): (3, 1),
    }
    assert counters[RECORDS]["read"] == 4
    assert counters[RECORDS]["without detections"] == 1
    assert BAD_RECORDS not in counters


def test_darknet_spellings_count_under_the_canonical_label(tmp_path, make_line):
    lines = [make_line(["motorbike", "motorcycle"]), make_line(["tvmonitor"]), make_line(["motorcycle"])]
    table, _, _, _ = run_job(tmp_path, lines)
    hour = utc(2026, 11, 28, 10)
    assert table == {("motorcycle", "front-door", hour): (3, 2), ("tv", "front-door", hour): (1, 1)}


def test_sources_are_counted_apart(tmp_path, make_line):
    lines = [
        make_line(["car"], source="front-door"),
        make_line(["car", "car"], source="parking"),
        make_line(["car"], source="parking"),
    ]
    table, _, _, _ = run_job(tmp_path, lines)
    hour = utc(2026, 11, 28, 10)
    assert table == {("car", "front-door", hour): (1, 1), ("car", "parking", hour): (3, 2)}


@pytest.mark.parametrize(
    "interval, expected",
    [
        (
            "minute",
            {
                utc(2026, 11, 28, 10, 15): (2, 2),
                utc(2026, 11, 28, 10, 59): (1, 1),
                utc(2026, 11, 28, 11, 0): (1, 1),
                utc(2026, 11, 29, 0, 0): (1, 1),
            },
        ),
        ("hour", {utc(2026, 11, 28, 10): (3, 3), utc(2026, 11, 28, 11): (1, 1), utc(2026, 11, 29, 0): (1, 1)}),
        ("day", {utc(2026, 11, 28): (4, 4), utc(2026, 11, 29): (1, 1)}),
    ],
)
def test_intervals(tmp_path, make_line, interval, expected):
    times = [
        "2026-11-28T10:15:00Z",
        "2026-11-28T10:15:59.999Z",
        "2026-11-28T10:59:59Z",
        "2026-11-28T11:00:00Z",
        "2026-11-29T00:00:00Z",
    ]
    lines = [make_line(["cat"], captured_at=t) for t in times]
    _, _, _, aggregates = run_job(tmp_path, lines, "--interval", interval)
    assert {a.bucket_start: (a.detections, a.images) for a in aggregates} == expected
    assert {a.interval for a in aggregates} == {Interval(interval)}


def test_time_zone_offsets_are_bucketed_in_utc(tmp_path, make_line):
    lines = [
        make_line(["bus"], captured_at="2026-11-28T01:30:00+05:00"),  # 27th, 20:30 UTC
        make_line(["bus"], captured_at="2026-11-27T15:45:00-05:00"),  # 27th, 20:45 UTC
    ]
    _, _, _, hourly = run_job(tmp_path, lines)
    assert [(a.bucket_start, a.detections) for a in hourly] == [(utc(2026, 11, 27, 20), 2)]
    _, _, _, daily = run_job(tmp_path, lines, "--interval", "day")
    assert [(a.bucket_start, a.detections) for a in daily] == [(utc(2026, 11, 27), 2)]


@pytest.mark.parametrize(
    "captured_at, reason",
    [
        (None, "captured_at absent"),
        ("yesterday", "captured_at invalid"),
        ("2026-11-28T10:15:30", "captured_at invalid"),  # no zone: ambiguous
        (12345, "captured_at invalid"),
    ],
)
def test_falls_back_to_processed_at(tmp_path, make_record, captured_at, reason):
    data = make_record(["truck"], processed_at="2026-11-28T14:20:00+01:00")
    if captured_at is None:
        del data["captured_at"]
    else:
        data["captured_at"] = captured_at
    good = make_record(["truck"], captured_at="2026-11-28T09:00:00Z")
    table, counters, _, _ = run_job(tmp_path, [json.dumps(data), json.dumps(good)])
    assert table == {
        ("truck", "front-door", utc(2026, 11, 28, 13)): (1, 1),
        ("truck", "front-door", utc(2026, 11, 28, 9)): (1, 1),
    }
    assert counters[TIMESTAMPS] == {f"bucketed by processed_at ({reason})": 1}


def _without(data, name):
    data.pop(name)
    return data


@pytest.mark.parametrize(
    "build, reason",
    [
        (lambda r: "{not json", "invalid JSON"),
        (lambda r: "", "empty record"),
        (lambda r: json.dumps(["a", "list"]), "not a JSON object"),
        (lambda r: json.dumps(r(["car"], schema_version=2)), "unknown schema version"),
        (lambda r: json.dumps(_without(r(["car"]), "schema_version")), "missing field"),
        (lambda r: json.dumps(_without(r(["car"]), "source")), "missing field"),
        (lambda r: json.dumps(_without(r(["car"]), "detections")), "missing field"),
        (lambda r: json.dumps(r(["car"], width="wide")), "invalid field"),
        (lambda r: json.dumps(r(["car"], detections=[{"label": "car"}])), "missing field"),
        (lambda r: json.dumps(r(["car"], captured_at="x", processed_at="y")), "invalid timestamp"),
        (lambda r: json.dumps(_without(r(["car"], captured_at="x"), "processed_at")), "missing field"),
    ],
)
def test_bad_records_are_counted_and_skipped(tmp_path, make_record, make_line, build, reason):
    lines = [make_line(["car"]), build(make_record), make_line(["car"])]
    table, counters, _, _ = run_job(tmp_path, lines)
    assert table == {("car", "front-door", utc(2026, 11, 28, 10)): (2, 2)}
    assert counters[BAD_RECORDS] == {reason: 1}
    assert counters[RECORDS]["read"] == 3


def test_output_lines_are_exactly_aggregate_lines(tmp_path, make_line):
    lines = [make_line(["person", "car"], source=s) for s in ("a", "b", "c")]
    _, _, raw, aggregates = run_job(tmp_path, lines)
    assert len(raw) == 6
    assert raw == [a.to_line() for a in aggregates]


def test_manifest_input_reads_each_listed_object(tmp_path, make_line):
    records = [make_line(["person"] * n + ["car"]) for n in range(1, 6)] + ["{broken"]
    paths = []
    for number, line in enumerate(records):
        path = tmp_path / f"object-{number}.json"
        path.write_text(line, encoding="utf-8")  # one object per file, no newline
        paths.append(str(path))
    paths.insert(2, str(tmp_path / "vanished.json"))  # listed, then deleted
    table, counters, _, _ = run_job(tmp_path, paths, "--input-format", "manifest", "--fetch-threads", "2")
    hour = utc(2026, 11, 28, 10)
    assert table == {("person", "front-door", hour): (15, 5), ("car", "front-door", hour): (5, 5)}
    assert counters[BAD_RECORDS] == {"object not found": 1, "invalid JSON": 1}
    assert counters[RECORDS]["read"] == 6


def test_manifest_aggregates_entries_are_added_to_the_new_records(tmp_path, make_line):
    hour = utc(2026, 11, 28, 10)
    totals = tmp_path / "part-00000"
    totals.write_text(
        "\n".join(
            [
                Aggregate("person", "front-door", Interval.HOUR, hour, 7, 3).to_line(),
                Aggregate("dog", "garden", Interval.HOUR, hour, 1, 1).to_line(),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    record = tmp_path / "new.json"
    record.write_text(make_line(["person", "person", "car"]), encoding="utf-8")
    table, counters, _, _ = run_job(tmp_path, [f"aggregates\t{totals}", str(record)], "--input-format", "manifest")
    assert table == {
        ("person", "front-door", hour): (9, 4),
        ("car", "front-door", hour): (1, 1),
        ("dog", "garden", hour): (1, 1),
    }
    assert counters[RECORDS]["read"] == 1
    assert counters[RECORDS]["earlier totals files read"] == 1


@pytest.mark.parametrize(
    "content, message",
    [
        ("{broken\n", "not valid JSON"),
        (Aggregate("dog", "garden", Interval.DAY, utc(2026, 11, 28), 1, 1).to_line() + "\n", "day buckets"),
    ],
)
def test_unreadable_earlier_totals_fail_the_run(tmp_path, content, message):
    totals = tmp_path / "part-00000"
    totals.write_text(content, encoding="utf-8")
    with pytest.raises(BaseTotalsError, match=message):
        run_job(tmp_path, [f"aggregates\t{totals}"], "--input-format", "manifest")


def test_a_missing_earlier_totals_file_fails_the_run(tmp_path):
    with pytest.raises(BaseTotalsError, match="earlier run's totals"):
        run_job(tmp_path, [f"aggregates\t{tmp_path / 'gone'}"], "--input-format", "manifest")


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    "changes, reason",
    [
        (dict(timings_ms={"inference": "slow"}), "invalid field"),
        (dict(timings_ms={"inference": None}), "invalid field"),
        (dict(timings_ms={"inference": [1]}), "invalid field"),
        (dict(timings_ms={"inference": float("nan")}), "invalid field"),  # json.dumps writes NaN
        (dict(timings_ms={"inference": float("inf")}), "invalid field"),  # ... and Infinity
        (dict(timings_ms={"inference": {"gpu": {"ms": 3}}}), "invalid field"),
        (dict(timings_ms=[12.5]), "invalid field"),
        (dict(captured_at="10000-01-01T00:00:00Z", processed_at="0000-01-01T00:00:00Z"), "invalid timestamp"),
        (dict(processed_at="9999-12-31T23:59:59-01:00", captured_at="x"), "invalid timestamp"),
        (dict(processed_at="0001-01-01T00:00:00+01:00", captured_at=None), "invalid timestamp"),
        (dict(width=2**64), "invalid field"),
        (
            dict(model={"name": "m", "input_size": 416, "confidence_threshold": 10**400, "nms_threshold": 0.4}),
            "invalid field",
        ),
        (dict(detections=[{"label": 7, "class_id": 0, "confidence": 0.9, "box": [1, 2, 3, 4]}]), "invalid field"),
        (dict(detections={"label": "car"}), "invalid field"),
        (dict(source=["front-door"]), "invalid field"),
        # names the API would list but refuse as a filter (issue 8: every listed name is accepted)
        (dict(source=""), "invalid field"),
        (dict(source="x" * 1001), "invalid field"),
        (dict(detections=[{"label": " ", "class_id": 0, "confidence": 0.9, "box": [1, 2, 3, 4]}]), "invalid field"),
        (
            dict(detections=[{"label": "y" * 1001, "class_id": 0, "confidence": 0.9, "box": [1, 2, 3, 4]}]),
            "invalid field",
        ),
    ],
)
def test_malformed_records_are_counted_never_failing_the_run(tmp_path, make_record, make_line, changes, reason):
    data = make_record(["car"], **changes)
    lines = [make_line(["car"]), json.dumps(data), make_line(["car"])]
    table, counters, _, _ = run_job(tmp_path, lines)
    assert table == {("car", "front-door", utc(2026, 11, 28, 10)): (2, 2)}
    assert counters[BAD_RECORDS] == {reason: 1}


@pytest.mark.parametrize(
    "line",
    [
        DEEP,
        '{"schema_version": 1, "width": ' + "9" * 5000 + "}",
    ],
    ids=["deep nesting", "integer over the conversion limit"],
)
def test_unreadable_json_is_counted_and_skipped(tmp_path, make_line, line):
    table, counters, _, _ = run_job(tmp_path, [make_line(["car"]), line, make_line(["car"])])
    assert table == {("car", "front-door", utc(2026, 11, 28, 10)): (2, 2)}
    assert counters[BAD_RECORDS] == {"invalid JSON": 1}


def test_overflowing_captured_at_falls_back_to_processed_at(tmp_path, make_record, make_line):
    data = make_record(["car"], captured_at="9999-12-31T23:59:59-01:00", processed_at="2026-11-28T10:20:00Z")
    table, counters, _, _ = run_job(tmp_path, [make_line(["car"]), json.dumps(data)])
    assert table == {("car", "front-door", utc(2026, 11, 28, 10)): (2, 2)}
    assert counters[TIMESTAMPS] == {"bucketed by processed_at (captured_at invalid)": 1}


def _archive_file(path, records):
    """An archive file of the events the consumer publishes for `records` (dicts)."""
    events = [detection_event_from_record(MetadataRecord.from_dict(r)).to_json_bytes() for r in records]
    path.write_bytes(encode_file(events))
    return path


def test_archive_files_count_as_the_metadata_records_they_come_from(tmp_path, make_record):
    records = [
        make_record(["person", "person", "motorbike"]),
        make_record(["dog"], source="garden"),
        make_record([], captured_at="2026-11-28T11:59:59+01:00"),
        make_record(["person"]),
    ]
    by_records, counters_r, _, _ = run_job(tmp_path, [json.dumps(r) for r in records])
    first = _archive_file(tmp_path / "a.jsonl.gz", records[:3])
    second = _archive_file(tmp_path / "b.jsonl.gz", records[3:])
    by_events, counters_e, _, _ = run_job(
        tmp_path, [f"events\t{first}", f"events\t{second}"], "--input-format", "manifest"
    )
    assert by_events == by_records and len(by_events) == 3  # person, motorcycle at front-door; dog in garden
    assert counters_e[RECORDS]["read"] == 4 and counters_e[RECORDS]["archive files read"] == 2
    assert counters_e[RECORDS]["without detections"] == counters_r[RECORDS]["without detections"] == 1


def test_an_image_counts_once_as_its_latest_event(tmp_path, make_record):
    first = make_record(["person"])
    again = dict(first, detections=first["detections"] * 2, processed_at="2026-11-28T13:00:00Z")
    other = make_record(["car"])
    one = _archive_file(tmp_path / "a.jsonl.gz", [again, other])
    two = _archive_file(tmp_path / "b.jsonl.gz", [first, first])  # older, and the same event twice
    table, counters, raw, _ = run_job(
        tmp_path, [f"events\t{one}", f"events\t{two}"], "--input-format", "manifest", "--one-per-image"
    )
    hour = utc(2026, 11, 28, 10)
    assert table == {("person", "front-door", hour): (2, 1), ("car", "front-door", hour): (1, 1)}
    assert counters[RECORDS]["replaced by a later event of the image"] == 2
    assert counters[RECORDS]["read"] == 4
    images = [image for line in raw if is_images_line(line.encode()) for image in images_of_line(line.encode())]
    assert sorted(images) == sorted({first["image_id"], other["image_id"]})


def test_without_one_per_image_every_event_counts(tmp_path, make_record):
    first = make_record(["person"])
    path = _archive_file(tmp_path / "a.jsonl.gz", [first, first])
    table, _, raw, _ = run_job(tmp_path, [f"events\t{path}"], "--input-format", "manifest")
    assert table == {("person", "front-door", utc(2026, 11, 28, 10)): (2, 2)}
    assert not any(is_images_line(line.encode()) for line in raw)


def test_bad_lines_of_an_archive_file_are_counted_and_skipped(tmp_path, make_record):
    path = tmp_path / "a.jsonl.gz"
    good = _archive_file(tmp_path / "g.jsonl.gz", [make_record(["car"])])
    path.write_bytes(encode_file([b"{not json", *decode_file(good.read_bytes())]))
    table, counters, _, _ = run_job(tmp_path, [f"events\t{path}"], "--input-format", "manifest")
    assert sum(d for d, _ in table.values()) == 1
    assert counters[BAD_RECORDS]["invalid JSON"] == 1
