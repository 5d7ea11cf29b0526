"""Property tests: every parser is total. Whatever the bytes or the JSON value, it returns
a record or raises its one error type (ContractError; the aggregation job's BadRecord;
the indexer reports the line), never another exception."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings, strategies as st

from consumer.processing import parse_announcement
from es_indexer.reading import SkippedLine, parse_lines
from hadoop.object_counts_job import BadRecord, parse_record
from pipeline_common.contracts import (
    Aggregate,
    ContractError,
    Detection,
    DetectionEvent,
    ErrorKind,
    ImageAnnouncement,
    Interval,
    MetadataRecord,
    ModelInfo,
    utc_time,
)

# modest and without deadlines: a run stays fast and never flakes on a slow machine
# a shared, loaded machine trips the speed and size health checks: they say nothing about the parsers
FAST = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

IMAGE_ID = "0123456789abcdef0123456789abcdef"
MOMENT = datetime(2026, 11, 28, 10, 15, 30, tzinfo=timezone.utc)

# values that sit on the edges the parsers must handle
TRICKY = st.sampled_from(
    [
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00+01:00",
        "2026-11-28T10:15:30",
        "2026-11-28T10:15:30Z",
        "",
        " ",
        "\ud800",
        "NaN",
        2**63,
        2**63 - 1,
        -1,
        10**400,
        1e308,
        float("inf"),
        float("nan"),
        True,
        0.5,
    ]
)
OFFSETS = st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59))
ISO_TIMES = st.datetimes(timezones=OFFSETS.map(timezone) | st.none()).map(datetime.isoformat)
NUMBERS = st.integers() | st.floats() | st.integers(min_value=2**62, max_value=2**65)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40) | TRICKY
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
FIELD_VALUES = TRICKY | ISO_TIMES | NUMBERS | JSON_VALUES


def valid_dicts():
    announcement = ImageAnnouncement(
        IMAGE_ID, f"s3://image-pipeline/images/{IMAGE_ID}.jpg", "cam-1", MOMENT, MOMENT, 10, 4, 3
    ).to_dict()
    metadata = MetadataRecord(
        IMAGE_ID,
        f"s3://image-pipeline/images/{IMAGE_ID}.jpg",
        "cam-1",
        MOMENT,
        MOMENT,
        ModelInfo("yolov4-tiny", 416, 0.25, 0.45),
        4,
        3,
        (Detection("dog", 16, 0.9, (0, 0, 2, 2)),),
        {"total": 3.5},
    ).to_dict()
    aggregate = Aggregate("dog", "cam-1", Interval.HOUR, MOMENT.replace(minute=0, second=0), 2, 1).to_dict()
    event = DetectionEvent(IMAGE_ID, "cam-1", MOMENT, MOMENT, "yolov4-tiny", {"dog": 2, "person": 1}).to_dict()
    return {ImageAnnouncement: announcement, MetadataRecord: metadata, Aggregate: aggregate, DetectionEvent: event}


VALID = valid_dicts()
PARSERS = st.sampled_from([ImageAnnouncement, MetadataRecord, Aggregate, DetectionEvent])


@st.composite
def mutated(draw):
    """A valid record's JSON object with a few fields (top-level or nested) replaced,
    dropped or added: close enough to valid to reach every field check."""
    cls = draw(PARSERS)
    data = json.loads(json.dumps(VALID[cls]))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        detections = data.get("detections")
        first = detections[0] if isinstance(detections, list) and detections else None
        nested = [data.get("model"), data.get("timings_ms"), first, data.get("counts")]
        nested = [part for part in nested if isinstance(part, dict)]
        target = draw(st.sampled_from(nested)) if nested and draw(st.booleans()) else data
        # a dict emptied by earlier drops has no name to pick: a new one is added instead
        names = st.sampled_from(sorted(target)) | st.text(max_size=8) if target else st.text(max_size=8)
        name = draw(names)
        if draw(st.integers(min_value=0, max_value=5)) == 0:
            target.pop(name, None)
        else:
            target[name] = draw(FIELD_VALUES)
    return cls, data


def assert_parses_or_contract_error(parse, payload):
    try:
        parse(payload)
    except ContractError as error:
        assert isinstance(error.kind, ErrorKind)
        assert str(error)


@FAST
@given(PARSERS, st.binary(max_size=300))
def test_any_bytes_give_a_record_or_a_contract_error(cls, payload):
    assert_parses_or_contract_error(cls.from_json_bytes, payload)


@FAST
@given(PARSERS, JSON_VALUES)
def test_any_json_value_gives_a_record_or_a_contract_error(cls, value):
    assert_parses_or_contract_error(cls.from_dict, value)
    assert_parses_or_contract_error(cls.from_json_bytes, json.dumps(value).encode())


@FAST
@given(mutated())
def test_any_damaged_record_gives_a_record_or_a_contract_error(case):
    cls, data = case
    assert_parses_or_contract_error(cls.from_dict, data)
    payload = json.dumps(data).encode()
    try:
        record = cls.from_json_bytes(payload)
    except ContractError:
        return
    # what parses is written back in a form that reads again to the same bytes
    written = record.to_json_bytes()
    assert cls.from_json_bytes(written).to_json_bytes() == written


@FAST
@given(JSON_VALUES | st.datetimes(timezones=st.timezones()) | st.datetimes())
def test_any_time_value_gives_a_utc_time_or_a_contract_error(value):
    try:
        moment = utc_time(value.isoformat() if isinstance(value, datetime) and value.day % 2 else value)
    except ContractError:
        return
    assert moment.utcoffset() == timedelta(0)


# --- the stages' own parsing around the contracts -----------------------------------


@FAST
@given(
    st.binary(max_size=300)
    | JSON_VALUES.map(lambda v: json.dumps(v).encode())
    | mutated().map(lambda case: json.dumps(case[1]).encode())
)
def test_the_consumer_parse_stage_fails_only_with_a_contract_error(payload):
    assert_parses_or_contract_error(lambda value: parse_announcement(value, "image-pipeline"), payload)


@FAST
@given(
    st.binary(max_size=300)
    | JSON_VALUES.map(lambda v: json.dumps(v).encode())
    | mutated().map(lambda case: json.dumps(case[1]).encode())
)
def test_the_aggregation_skips_any_record_with_a_counted_reason(payload):
    try:
        parse_record(payload)
    except BadRecord as bad:
        assert bad.reason


@FAST
@given(st.lists(st.binary(max_size=200) | mutated().map(lambda case: json.dumps(case[1]).encode()), max_size=5))
def test_the_indexer_reports_any_bad_line_and_goes_on(lines):
    skipped: list[SkippedLine] = []
    numbered = [("run/part-00000", n, line) for n, line in enumerate(lines, start=1)]
    parsed = list(parse_lines(numbered, skipped))
    blank = sum(1 for line in lines if not line.strip())
    assert len(parsed) + len(skipped) + blank == len(lines)
