"""Sample input for the demo, made from photos that Debian's `darknet` package installs.

Each camera gets mirrored and cropped variants of those photos (distinct content, so
distinct image ids), with file times spread over the last day so the dashboard's
timeline has a shape; one camera also gets a short video. Existing files are left
alone, so re-running the demo announces nothing new.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import cv2
import numpy as np

PHOTO_DIR = Path("/usr/share/darknet/data")
PHOTOS = ["dog.jpg", "person.jpg", "horses.jpg", "kite.jpg", "giraffe.jpg", "eagle.jpg", "scream.jpg"]
CAMERAS = ["camera-north", "camera-south"]
VIDEO_CAMERA = "camera-gate"

log = logging.getLogger(__name__)


def _variant(image: np.ndarray, number: int) -> np.ndarray:
    """A recognisably different picture of the same scene: mirrored and/or cropped."""
    height, width = image.shape[:2]
    if number % 2:
        image = cv2.flip(image, 1)
    trim = (number // 2) * 0.04
    top, left = int(height * trim), int(width * trim)
    return image[top : height - top // 2, left : width - left // 2]


def _load_photos() -> dict[str, np.ndarray]:
    missing = [name for name in PHOTOS if not (PHOTO_DIR / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"sample photos missing from {PHOTO_DIR}: {', '.join(missing)} "
            "(install Debian's darknet package; `make setup` does it)"
        )
    return {name: cv2.imread(str(PHOTO_DIR / name)) for name in PHOTOS}


def write_samples(new_pics: Path, variants_per_photo: int = 4, now: float | None = None) -> int:
    """Write what is missing; return how many files were written."""
    now = time.time() if now is None else now
    photos = _load_photos()
    written = 0
    for camera_number, camera in enumerate(CAMERAS):
        folder = new_pics / camera
        folder.mkdir(parents=True, exist_ok=True)
        slots = len(photos) * variants_per_photo
        for index, (name, image) in enumerate(
            (name, image) for name, image in photos.items() for _ in range(variants_per_photo)
        ):
            number = index % variants_per_photo + camera_number * variants_per_photo
            target = folder / f"{Path(name).stem}-{number}.jpg"
            if target.exists():
                continue
            cv2.imwrite(str(target), _variant(image, number), [cv2.IMWRITE_JPEG_QUALITY, 92])
            # capture time = file time for photos without EXIF: spread over the last 24 h
            moment = now - 24 * 3600 * (slots - index) / slots
            os.utime(target, (moment, moment))
            written += 1
    written += _write_video(new_pics / VIDEO_CAMERA, photos, now)
    log.info("sample input in %s: %d new files", new_pics, written)
    return written


def _write_video(folder: Path, photos: dict[str, np.ndarray], now: float) -> int:
    target = folder / "gate.mp4"
    if target.exists():
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    fps, seconds_per_scene, size = 10, 2, (640, 480)
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    try:
        for name in ("dog.jpg", "person.jpg", "horses.jpg"):
            frame = cv2.resize(photos[name], size)
            for _ in range(fps * seconds_per_scene):
                writer.write(frame)
    finally:
        writer.release()
    started = now - 30 * 60
    os.utime(target, (started, started))
    return 1
