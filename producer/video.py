"""Video files -> still frames sampled at a fixed rate, through OpenCV's VideoCapture.

OpenCV exposes no container creation time, so a video's start is its file's
modification time; each frame's capture time is that start plus the frame's offset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv"})
# Used only when a container reports no frame rate at all.
FALLBACK_FPS = 25.0


class VideoError(Exception):
    """The file cannot be read as a video; the message says why."""


class Sampler:
    """Keeps the first frame at or after each multiple of 1/fps seconds."""

    def __init__(self, fps: float):
        if fps <= 0:
            raise ValueError(f"sampling rate must be positive, got {fps}")
        self.interval = 1.0 / fps
        self._next = 0.0

    def keep(self, offset_s: float) -> bool:
        # a small tolerance: 1/3 s steps add up to 0.99999 rather than 1.0
        if offset_s + 1e-6 < self._next:
            return False
        steps = math.floor((offset_s + 1e-6) / self.interval) + 1
        self._next = steps * self.interval
        return True


@dataclass(frozen=True)
class VideoFrame:
    offset_s: float
    image: Image.Image  # RGB


def frame_offset(index: int, native_fps: float) -> float:
    return index / native_fps


def sample_frames(path: Path, fps: float) -> Iterator[VideoFrame]:
    """Decode `path` and yield frames `fps` times per second of video time.

    Raises VideoError when nothing can be decoded; a video that breaks off midway
    yields the frames before the break (what a player would show)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise VideoError("OpenCV cannot open it as a video (unknown codec or corrupt file)")
        native_fps = capture.get(cv2.CAP_PROP_FPS)
        if not native_fps or not math.isfinite(native_fps) or native_fps <= 0:
            native_fps = FALLBACK_FPS
        sampler = Sampler(fps)
        index = 0
        decoded = 0
        # grab() is cheap (no colour conversion); retrieve() only the frames we keep
        while capture.grab():
            offset = frame_offset(index, native_fps)
            index += 1
            if not sampler.keep(offset):
                continue
            ok, bgr = capture.retrieve()
            if not ok or bgr is None:
                continue
            decoded += 1
            yield VideoFrame(offset, bgr_to_image(bgr))
        if decoded == 0:
            raise VideoError("no frame could be decoded")
    finally:
        capture.release()


def bgr_to_image(bgr: np.ndarray) -> Image.Image:
    if bgr.ndim == 2:
        return Image.fromarray(bgr).convert("RGB")
    return Image.fromarray(np.ascontiguousarray(bgr[:, :, 2::-1]))
