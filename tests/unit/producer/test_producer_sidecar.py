"""The frame sidecar: a declared contract that reads what the producer always wrote,
writes the same bytes, and fails only with ContractError."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from pipeline_common.contracts import ContractError
from producer.sidecar import FrameRecord

# written by the hand-written FrameRecord.to_json of commit 78551cf; kept verbatim
OLD_VIDEO_FRAME = (
    '{\n "schema_version": 1,\n "image_id": "0123456789abcdef0123456789abcdef",\n "source": "Café ☕ door",\n'
    ' "captured_at": "2026-11-28T08:15:30.123Z",\n "capture_origin": "exif",\n "original": "holiday/clip.mp4",\n'
    ' "width": 1280,\n "height": 720,\n "frame_offset_s": 12.346\n}\n'
)
OLD_PHOTO = (
    '{\n "schema_version": 1,\n "image_id": "0123456789abcdef0123456789abcdef",\n "source": "new_pics",\n'
    ' "captured_at": "2026-11-28T10:15:30.000Z",\n "capture_origin": "file-mtime",\n "original": "a.png",\n'
    ' "width": 60,\n "height": 40\n}\n'
)
IMAGE_ID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "old, record",
    [
        (
            OLD_VIDEO_FRAME,
            FrameRecord(
                IMAGE_ID,
                "Café ☕ door",
                datetime(2026, 11, 28, 10, 15, 30, 123456, tzinfo=timezone(timedelta(hours=2))),
                "exif",
                "holiday/clip.mp4",
                1280,
                720,
                12.3456789,
            ),
        ),
        (
            OLD_PHOTO,
            FrameRecord(
                IMAGE_ID,
                "new_pics",
                datetime(2026, 11, 28, 10, 15, 30, tzinfo=timezone.utc),
                "file-mtime",
                "a.png",
                60,
                40,
            ),
        ),
    ],
    ids=["video frame", "photo"],
)
def test_old_sidecars_read_and_the_same_record_writes_the_same_text(old, record):
    assert record.to_json() == old
    parsed = FrameRecord.from_json(old)
    assert parsed.to_json() == old
    assert (parsed.source, parsed.original, parsed.width) == (record.source, record.original, record.width)


@settings(max_examples=100, deadline=None)
@given(
    st.binary(max_size=200)
    | st.dictionaries(
        st.sampled_from(["schema_version", "image_id", "source", "captured_at", "width", "frame_offset_s", "other"]),
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text(max_size=30)
        | st.sampled_from(["9999-12-31T23:59:59-01:00", 1, IMAGE_ID]),
    ).map(lambda changes: json.dumps({**json.loads(OLD_PHOTO), **changes}).encode())
)
def test_any_sidecar_gives_a_record_or_a_contract_error(payload):
    try:
        FrameRecord.from_json(payload)
    except ContractError:
        pass
