"""Videos: frames sampled at a fixed rate, each timed from the video's start."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest

from producer.prepare import prepare_all
from producer.sidecar import read_record
from producer.video import Sampler, VideoError, sample_frames

NATIVE_FPS = 10
FRAMES = 35  # 3.5 s
START = datetime(2024, 2, 3, 4, 5, 6, tzinfo=timezone.utc)


def make_video(path: Path, codec: str = "MJPG", frames: int = FRAMES, fps: int = NATIVE_FPS) -> Path:
    """Frame i is a flat grey of brightness 7*i, so a sampled frame tells its index."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (64, 48))
    assert writer.isOpened(), f"OpenCV cannot write {codec}"
    for index in range(frames):
        writer.write(np.full((48, 64, 3), 7 * index, dtype=np.uint8))
    writer.release()
    os.utime(path, (START.timestamp(), START.timestamp()))
    return path


def index_of(frame) -> int:
    return round(float(np.asarray(frame.image).mean()) / 7)


@pytest.mark.parametrize(
    "native, wanted, count, expected",
    [
        (30, 1.0, 90, [0, 30, 60]),
        (30, 3.0, 12, [0, 10]),
        (10, 60.0, 5, [0, 1, 2, 3, 4]),  # asking for more than there is gives every frame
        (25, 0.5, 101, [0, 50, 100]),
        (30, 4.0, 16, [0, 8, 15]),  # 1/4 s steps on a 30 fps grid: nearest frame at or after
    ],
)
def test_sampler_picks_frames_at_the_rate(native, wanted, count, expected):
    sampler = Sampler(wanted)
    assert [i for i in range(count) if sampler.keep(i / native)] == expected


def test_sampler_refuses_non_positive_rates():
    with pytest.raises(ValueError):
        Sampler(0)


@pytest.mark.parametrize("suffix, codec", [(".avi", "MJPG"), (".mp4", "mp4v")])
def test_sample_frames_from_a_real_video(tmp_path, suffix, codec):
    video = make_video(tmp_path / f"clip{suffix}", codec)
    frames = list(sample_frames(video, 1.0))
    assert [f.offset_s for f in frames] == [0.0, 1.0, 2.0, 3.0]
    assert [index_of(f) for f in frames] == [0, 10, 20, 30]
    assert all(f.image.mode == "RGB" and f.image.size == (64, 48) for f in frames)


def test_unreadable_video_raises(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(os.urandom(4096))
    with pytest.raises(VideoError):
        list(sample_frames(broken, 1.0))


def test_prepare_turns_a_video_into_timed_frames(settings):
    make_video(settings.new_pics_dir / "Door.AVI")
    (settings.new_pics_dir / "empty.mkv").write_bytes(b"")

    report = prepare_all(settings, progress=False)

    records = sorted((read_record(p) for p in report.frames), key=lambda r: r.frame_offset_s)
    assert [r.frame_offset_s for r in records] == [0.0, 1.0, 2.0, 3.0]
    assert [r.captured_at for r in records] == [START + timedelta(seconds=s) for s in range(4)]
    assert {r.capture_origin for r in records} == {"video-start+offset"}
    assert {r.original for r in records} == {"Door.AVI"}
    assert [Path(f).name for f, _ in report.failures] == ["empty.mkv"]

    again = prepare_all(settings, progress=False)
    assert again.created == [] and again.already_prepared == 1


def test_a_different_rate_gives_more_frames(settings):
    make_video(settings.new_pics_dir / "clip.avi")
    report = prepare_all(settings.replace(video_fps=2.0), progress=False)
    assert len(report.frames) == 7
