"""prepare: originals in new_pics/ -> frames named by content hash, with sidecars."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from producer.prepare import prepare_all
from producer.sidecar import list_frames, read_record

DARKNET = Path("/usr/share/darknet/data")
needs_photos = pytest.mark.skipif(not (DARKNET / "kite.jpg").exists(), reason="Debian package darknet not installed")

MTIME = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc).timestamp()


def save(image: Image.Image, path: Path, fmt: str, **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt, **options)
    os.utime(path, (MTIME, MTIME))
    return path


def noise(seed: int, size=(120, 80)) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


@pytest.fixture
def mixed_folder(settings):
    root = settings.new_pics_dir
    save(noise(1), root / "one.PNG", "PNG")
    save(noise(2), root / "two.WebP", "WEBP", quality=90)
    save(noise(3, (800, 300)), root / "three.bmp", "BMP")
    save(noise(4), root / "cam-7" / "four.JPEG", "JPEG")
    (root / "random.jpg").write_bytes(os.urandom(2000))
    whole = io.BytesIO()
    noise(5).save(whole, format="JPEG")
    (root / "truncated.jpg").write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    (root / "notes.txt").write_text("not a picture")
    (root / ".hidden.jpg").write_bytes(b"editor swap file")
    return root


def test_good_files_become_frames_bad_ones_are_listed(settings, mixed_folder):
    report = prepare_all(settings, progress=False)

    frames = list_frames(settings.frames_dir)
    assert len(frames) == 4 == len(report.created)
    assert sorted(Path(f).name for f, _ in report.failures) == ["random.jpg", "truncated.jpg"]
    reasons = dict((Path(f).name, r) for f, r in report.failures)
    assert "not a readable image" in reasons["random.jpg"]
    assert "truncated" in reasons["truncated.jpg"]
    assert [Path(p).name for p in report.ignored] == ["notes.txt"]
    assert not report.ok

    for frame in frames:
        payload = frame.read_bytes()
        record = read_record(frame)
        assert frame.name == hashlib.sha256(payload).hexdigest()[:32] + ".jpg" == record.image_id + ".jpg"
        with Image.open(frame) as image:
            assert image.format == "JPEG" and image.mode == "RGB"
            assert max(image.size) <= settings.max_side
            assert (image.width, image.height) == (record.width, record.height)
        assert record.captured_at == datetime.fromtimestamp(MTIME, timezone.utc)
        assert record.capture_origin == "file-mtime"

    by_original = {read_record(f).original: read_record(f) for f in frames}
    assert set(by_original) == {"one.PNG", "two.WebP", "three.bmp", "cam-7/four.JPEG"}
    assert by_original["cam-7/four.JPEG"].source == "cam-7"
    assert by_original["one.PNG"].source == "new_pics"  # the folder's own name
    assert (by_original["three.bmp"].width, by_original["three.bmp"].height) == (256, 96)


def test_rerun_adds_nothing(settings, mixed_folder):
    prepare_all(settings, progress=False)
    before = sorted(p.name for p in settings.frames_dir.iterdir())

    again = prepare_all(settings, progress=False)

    assert again.created == []
    assert again.already_prepared == 4
    assert len(again.frames) == 4
    assert sorted(p.name for p in settings.frames_dir.iterdir()) == before
    assert len(again.failures) == 2  # still bad, still reported


def test_a_deleted_frame_is_made_again(settings, mixed_folder):
    first = prepare_all(settings, progress=False)
    victim = first.created[0]
    victim.unlink()

    again = prepare_all(settings, progress=False)

    assert again.created == [victim]
    assert victim.exists()


def test_identical_pictures_share_one_frame(settings):
    save(noise(9), settings.new_pics_dir / "a.png", "PNG")
    shutil.copy(settings.new_pics_dir / "a.png", settings.new_pics_dir / "b.png")
    report = prepare_all(settings, progress=False)
    assert len(list_frames(settings.frames_dir)) == 1
    assert len(report.frames) == 2 and len(report.created) == 1
    assert read_record(report.frames[0]).original == "a.png"  # the first one's sidecar is kept


def test_source_setting_wins(settings, mixed_folder):
    prepare_all(settings.replace(source="front-door"), progress=False)
    assert {read_record(f).source for f in list_frames(settings.frames_dir)} == {"front-door"}


@needs_photos
def test_real_photo_keeps_its_exif_capture_time(settings):
    shutil.copy(DARKNET / "kite.jpg", settings.new_pics_dir / "kite.jpg")
    shutil.copy(DARKNET / "giraffe.jpg", settings.new_pics_dir / "giraffe.jpg")  # no EXIF at all
    os.utime(settings.new_pics_dir / "giraffe.jpg", (MTIME, MTIME))

    report = prepare_all(settings, progress=False)

    records = {read_record(f).original: read_record(f) for f in report.frames}
    # kite.jpg's camera wrote DateTimeOriginal 2010:06:06 12:27:25 (sub-second .11), no offset
    assert records["kite.jpg"].captured_at == datetime(2010, 6, 6, 12, 27, 25, 110000, tzinfo=timezone.utc)
    assert records["kite.jpg"].capture_origin == "exif-assumed-utc"
    assert records["giraffe.jpg"].capture_origin == "file-mtime"
    assert records["giraffe.jpg"].captured_at == datetime.fromtimestamp(MTIME, timezone.utc)


def test_missing_input_folder_is_empty_not_an_error(settings):
    settings.new_pics_dir.rmdir()
    report = prepare_all(settings, progress=False)
    assert report.ok and report.frames == []


def test_symbolic_links_leading_out_of_new_pics_are_refused(settings, tmp_path):
    outside = tmp_path / "private"
    save(noise(6), outside / "secret.png", "PNG")
    save(noise(7), outside / "album" / "holiday.png", "PNG")
    root = settings.new_pics_dir
    save(noise(8), root / "cam-1" / "inside.png", "PNG")
    (root / "cam-1" / "stolen.png").symlink_to(outside / "secret.png")
    (root / "linked-album").symlink_to(outside / "album", target_is_directory=True)
    (root / "cam-1" / "alias.png").symlink_to(root / "cam-1" / "inside.png")  # stays inside: fine

    report = prepare_all(settings, progress=False)

    refused = {Path(f).name: reason for f, reason in report.failures}
    assert "symbolic link leading out of" in refused["stolen.png"]
    assert str(outside / "secret.png") in refused["stolen.png"]
    if "holiday.png" in refused:  # a linked folder: listed or not, it is never read
        assert "symbolic link leading out of" in refused["holiday.png"]
    published = {read_record(f).original for f in list_frames(settings.frames_dir)}
    assert published == {"cam-1/inside.png"}


def test_a_picture_over_the_pixel_limit_is_refused_before_decoding(settings):
    huge = settings.model_copy(update={"max_image_pixels": 10_000})
    save(noise(9, (200, 100)), huge.new_pics_dir / "big.png", "PNG")  # 20 000 pixels
    save(noise(10, (50, 50)), huge.new_pics_dir / "small.png", "PNG")

    report = prepare_all(huge, progress=False)

    assert [(Path(f).name, r) for f, r in report.failures] == [
        ("big.png", "200x100 = 20000 pixels is over the limit of 10000 (PRODUCER_MAX_IMAGE_PIXELS): not decoded")
    ]
    assert len(report.created) == 1


def test_a_decompression_bomb_header_is_refused_without_decoding(settings, monkeypatch):
    """A small PNG whose header claims 60 000 x 60 000 pixels: refused from its header."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 2, 0, 0, 0)
    png = (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")
    )
    (settings.new_pics_dir / "bomb.png").write_bytes(png)
    decoded = []

    def load(self):  # decoding 3.6 G pixels would take 10 GB: recorded, never done
        decoded.append(self)
        raise OSError("decoding started")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # PIL's own guard off: ours must hold

    report = prepare_all(settings, progress=False)

    assert "3600000000 pixels is over the limit" in report.failures[0][1]
    assert decoded == []
