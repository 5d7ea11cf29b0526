"""new_pics/ -> extracted_frames/: each picture, and each sampled video frame, becomes a
normalised JPEG named by its content hash, with a sidecar saying where and when it was taken."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Iterable

from PIL import Image
from tqdm import tqdm

from . import captured
from .frames import IMAGE_SUFFIXES, encode_jpeg, image_id, normalise
from .settings import ProducerSettings
from .sidecar import FrameRecord, frame_path, write_frame
from .state import PreparedLedger
from .video import VIDEO_SUFFIXES, VideoError, sample_frames

log = logging.getLogger(__name__)


class PrepareError(Exception):
    """An original could not be turned into frames; the message says why."""


@dataclass
class PrepareReport:
    created: list[Path] = field(default_factory=list)  # new frames written by this run
    frames: list[Path] = field(default_factory=list)  # every frame of the originals handled
    already_prepared: int = 0  # originals skipped: same content, same settings as before
    failures: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    ignored: list[str] = field(default_factory=list)  # files of a type we do not read

    @property
    def ok(self) -> bool:
        return not self.failures


def kind_of(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return None


def find_originals(new_pics_dir: Path) -> tuple[list[Path], list[Path]]:
    """(readable files, files of other types), recursively, hidden files left out."""
    wanted, other = [], []
    if not new_pics_dir.is_dir():
        return wanted, other
    for path in sorted(new_pics_dir.rglob("*")):
        relative = path.relative_to(new_pics_dir)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        (wanted if kind_of(path) else other).append(path)
    return wanted, other


def check_inside(path: Path, new_pics_dir: Path) -> None:
    """A file found in new_pics/ must be in new_pics/: a symbolic link (to the file, or to
    a folder on its way) that leads elsewhere is refused rather than followed, so dropping
    a link cannot publish any file the producer may read."""
    try:
        path.absolute().relative_to(new_pics_dir.absolute())
    except ValueError:
        return  # named explicitly, not found in new_pics/
    target = path.resolve()
    try:
        target.relative_to(new_pics_dir.resolve())
    except ValueError:
        raise PrepareError(f"a symbolic link leading out of {new_pics_dir} (to {target}): refused") from None


def ledger_key(content_hash: str, kind: str, settings: ProducerSettings) -> str:
    """Same bytes under the same settings give the same frames: no need to decode again."""
    params = f"side={settings.max_side},q={settings.jpeg_quality}"
    if kind == "video":
        params += f",fps={settings.video_fps:g}"
    return f"{content_hash}:{params}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare_file(path: Path, settings: ProducerSettings, ledger: PreparedLedger, report: PrepareReport) -> None:
    """Turn one original into frames, adding what happened to `report`."""
    kind = kind_of(path)
    if kind is None:
        report.ignored.append(str(path))
        return
    try:
        check_inside(path, settings.new_pics_dir)
        key = ledger_key(file_sha256(path), kind, settings)
        done = ledger.frames_of(key)
        if done is not None and all(frame_path(settings.frames_dir, i).exists() for i in done):
            report.already_prepared += 1
            report.frames.extend(frame_path(settings.frames_dir, i) for i in done)
            return
        produce = _image_frames if kind == "image" else _video_frames
        written = []
        for jpeg, record in produce(path, settings):
            target, created = write_frame(settings.frames_dir, jpeg, record)
            written.append(record.image_id)
            report.frames.append(target)
            if created:
                report.created.append(target)
        ledger.record(key, _relative(path, settings.new_pics_dir), written)
    # One bad file must never stop the batch: whatever the decoders raise is reported
    # with the file's name and the run ends non-zero.
    except Exception as error:  # noqa: BLE001
        reason = str(error) if isinstance(error, (PrepareError, VideoError)) else f"{type(error).__name__}: {error}"
        log.error("cannot prepare %s: %s", path, reason)
        report.failures.append((str(path), reason))


def prepare_all(
    settings: ProducerSettings, paths: Iterable[Path] | None = None, progress: bool | None = None
) -> PrepareReport:
    report = PrepareReport()
    if paths is None:
        originals, others = find_originals(settings.new_pics_dir)
        for other in others:
            log.warning("ignoring %s: not a supported picture or video type", other)
        report.ignored.extend(str(p) for p in others)
    else:
        originals = list(paths)
    ledger = PreparedLedger.in_folder(settings.frames_dir)
    # progress=None: tqdm shows the bar on a terminal only
    for path in tqdm(originals, desc="prepare", unit="file", disable=None if progress is None else not progress):
        prepare_file(path, settings, ledger, report)
    return report


def _image_frames(path: Path, settings: ProducerSettings):
    stat = path.stat()
    try:
        with Image.open(path) as image:
            # the header says the size: refuse a decompression bomb before decoding a pixel
            width, height = image.size
            if width * height > settings.max_image_pixels:
                raise PrepareError(
                    f"{width}x{height} = {width * height} pixels is over the limit of "
                    f"{settings.max_image_pixels} (PRODUCER_MAX_IMAGE_PIXELS): not decoded"
                )
            image.load()  # decode now, so a truncated file fails here, by name
            moment = captured.from_image(image) or captured.from_mtime(stat.st_mtime)
            picture = normalise(image, settings.max_side)
    except Image.DecompressionBombError as error:
        raise PrepareError(f"too large to decode safely ({error})") from None
    except Image.UnidentifiedImageError:
        raise PrepareError("not a readable image (unknown format or corrupt header)") from None
    except OSError as error:
        raise PrepareError(f"unreadable image: {error}") from None
    jpeg = encode_jpeg(picture, settings.jpeg_quality)
    yield jpeg, _record(jpeg, picture, path, settings, moment)


def _video_frames(path: Path, settings: ProducerSettings):
    start = captured.from_mtime(path.stat().st_mtime).moment
    for frame in sample_frames(path, settings.video_fps):
        picture = normalise(frame.image, settings.max_side)
        jpeg = encode_jpeg(picture, settings.jpeg_quality)
        moment = captured.CaptureTime(start + timedelta(seconds=frame.offset_s), "video-start+offset")
        yield jpeg, _record(jpeg, picture, path, settings, moment, frame.offset_s)


def _record(jpeg, picture, path, settings, moment, offset=None) -> FrameRecord:
    return FrameRecord(
        image_id=image_id(jpeg),
        source=settings.source_for(path),
        captured_at=moment.moment,
        capture_origin=moment.origin,
        original=_relative(path, settings.new_pics_dir),
        width=picture.width,
        height=picture.height,
        frame_offset_s=offset,
    )


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
