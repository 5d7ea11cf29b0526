"""When a picture was taken, always as an aware UTC datetime.

Order of evidence: EXIF DateTimeOriginal (with OffsetTimeOriginal when the camera
wrote one; without it the wall-clock time is taken as UTC, since nothing in the file
says otherwise), then the file's modification time.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from PIL import ExifTags, Image

log = logging.getLogger(__name__)

DATE_TIME_ORIGINAL = 0x9003
OFFSET_TIME_ORIGINAL = 0x9011
SUBSEC_TIME_ORIGINAL = 0x9291

_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


@dataclass(frozen=True)
class CaptureTime:
    moment: datetime  # aware, UTC
    origin: str  # exif | exif-assumed-utc | file-mtime | video-start+offset


def from_exif_fields(date_time: str | None, offset: str | None = None, subsec: str | None = None) -> CaptureTime | None:
    """Parse EXIF 'YYYY:MM:DD HH:MM:SS' (+ '+02:00', + '123'); None when absent or
    unusable (cameras write all-zero or blank dates when their clock was never set)."""
    if not date_time or not isinstance(date_time, str):
        return None
    text = date_time.strip().rstrip("\x00").strip()
    try:
        naive = datetime.strptime(text, "%Y:%m:%d %H:%M:%S")
    except ValueError:
        log.debug("ignoring unusable EXIF DateTimeOriginal %r", date_time)
        return None
    if subsec and isinstance(subsec, str) and subsec.strip().isdigit():
        digits = subsec.strip()[:6]
        naive = naive.replace(microsecond=int(digits.ljust(6, "0")))
    zone = _parse_offset(offset)
    if zone is None:
        return CaptureTime(naive.replace(tzinfo=timezone.utc), "exif-assumed-utc")
    return CaptureTime(naive.replace(tzinfo=zone).astimezone(timezone.utc), "exif")


def _parse_offset(offset: str | None) -> timezone | None:
    if not offset or not isinstance(offset, str):
        return None
    match = _OFFSET.match(offset.strip().rstrip("\x00"))
    if not match:
        return None
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    if delta > timedelta(hours=14):
        return None
    return timezone(-delta if sign == "-" else delta)


def from_image(image: Image.Image) -> CaptureTime | None:
    """EXIF capture time of an opened (not yet transposed) image, if it has one."""
    try:
        exif = image.getexif()
        sub = exif.get_ifd(ExifTags.IFD.Exif)
    except Exception as error:  # broken EXIF must not cost the picture itself
        log.warning("unreadable EXIF block (%s); using the file time instead", error)
        return None
    return from_exif_fields(
        _text(sub.get(DATE_TIME_ORIGINAL)),
        _text(sub.get(OFFSET_TIME_ORIGINAL)),
        _text(sub.get(SUBSEC_TIME_ORIGINAL)),
    )


def from_mtime(mtime: float) -> CaptureTime:
    return CaptureTime(datetime.fromtimestamp(mtime, tz=timezone.utc), "file-mtime")


def _text(value) -> str | None:
    if isinstance(value, bytes):
        return value.decode("ascii", errors="replace")
    return value if isinstance(value, str) else None
