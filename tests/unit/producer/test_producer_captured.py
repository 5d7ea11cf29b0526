"""Capture time: EXIF DateTimeOriginal (+ offset) first, then the file's modification time."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest
from PIL import ExifTags, Image

from producer import captured


@pytest.mark.parametrize(
    "date_time, offset, subsec, expected, origin",
    [
        ("2024:07:01 14:30:00", "+02:00", None, datetime(2024, 7, 1, 12, 30, tzinfo=timezone.utc), "exif"),
        ("2024:07:01 14:30:00", "-05:30", None, datetime(2024, 7, 1, 20, 0, tzinfo=timezone.utc), "exif"),
        ("2024:07:01 14:30:00", None, None, datetime(2024, 7, 1, 14, 30, tzinfo=timezone.utc), "exif-assumed-utc"),
        ("2024:07:01 14:30:00", "   :  ", None, datetime(2024, 7, 1, 14, 30, tzinfo=timezone.utc), "exif-assumed-utc"),
        (
            "2024:12:31 23:59:59",
            "+01:00",
            "25",
            datetime(2024, 12, 31, 22, 59, 59, 250000, tzinfo=timezone.utc),
            "exif",
        ),
        ("2024:07:01 14:30:00\x00", None, None, datetime(2024, 7, 1, 14, 30, tzinfo=timezone.utc), "exif-assumed-utc"),
    ],
)
def test_exif_fields(date_time, offset, subsec, expected, origin):
    found = captured.from_exif_fields(date_time, offset, subsec)
    assert found == captured.CaptureTime(expected, origin)
    assert found.moment.tzinfo is not None


@pytest.mark.parametrize(
    "date_time", [None, "", "0000:00:00 00:00:00", "    :  :     :  :  ", "yesterday", "2024-07-01T14:30:00"]
)
def test_unusable_exif_dates_give_nothing(date_time):
    assert captured.from_exif_fields(date_time, "+02:00") is None


def _jpeg_with_exif(date_time=None, offset=None) -> Image.Image:
    exif = Image.Exif()
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    if date_time:
        sub[captured.DATE_TIME_ORIGINAL] = date_time
    if offset:
        sub[captured.OFFSET_TIME_ORIGINAL] = offset
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="JPEG", exif=exif.tobytes())
    buffer.seek(0)
    return Image.open(buffer)


def test_from_a_real_exif_block():
    image = _jpeg_with_exif("2023:03:04 05:06:07", "+09:00")
    assert captured.from_image(image) == captured.CaptureTime(
        datetime(2023, 3, 3, 20, 6, 7, tzinfo=timezone.utc), "exif"
    )


def test_picture_without_exif_date_has_none():
    assert captured.from_image(_jpeg_with_exif()) is None


def test_mtime_is_utc():
    found = captured.from_mtime(1_700_000_000.5)
    assert found.origin == "file-mtime"
    assert found.moment == datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=timezone.utc)
