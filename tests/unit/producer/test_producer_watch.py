"""watch: a file is handled once it stopped changing, and only once."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace

from producer.watch import Settler, watch


class FakeFiles:
    def __init__(self):
        self.sizes: dict[Path, int] = {}

    def stat(self, path):
        if path not in self.sizes:
            raise FileNotFoundError(path)
        return SimpleNamespace(st_size=self.sizes[path], st_mtime_ns=self.sizes[path])


def test_a_growing_file_waits_until_it_settles():
    files, settler, path = FakeFiles(), Settler(settle_s=0.5), Path("/in/a.jpg")
    files.sizes[path] = 100
    settler.changed(path, now=0.0)
    assert settler.ready(0.0, files.stat) == []  # first look: size noted
    files.sizes[path] = 200  # still being written
    assert settler.ready(0.4, files.stat) == []
    assert settler.ready(0.8, files.stat) == []  # unchanged since 0.4, but not for 0.5 s
    assert settler.ready(0.9, files.stat) == [path]
    assert settler.ready(5.0, files.stat) == []  # handed out once
    assert len(settler) == 0


def test_vanished_files_are_forgotten_and_empty_files_wait_longer():
    files, settler = FakeFiles(), Settler(settle_s=0.1)
    gone, empty = Path("/in/gone.jpg"), Path("/in/empty.jpg")
    files.sizes[empty] = 0
    settler.changed(gone, 0.0)
    settler.changed(empty, 0.0)
    assert settler.ready(0.0, files.stat) == []
    assert settler.ready(1.0, files.stat) == []  # an empty file is usually about to be written
    assert settler.ready(6.0, files.stat) == [empty]
    assert len(settler) == 0


def test_watch_hands_over_dropped_files_and_those_already_there(tmp_path):
    (tmp_path / "before.png").write_bytes(b"waiting before watch started")
    handled: list[list[Path]] = []
    stop = threading.Event()

    def handle(paths):
        handled.append(paths)
        if sum(len(p) for p in handled) >= 3:
            stop.set()

    def drop_files():
        time.sleep(0.3)  # let the observer start
        (tmp_path / "notes.txt").write_text("ignored")
        (tmp_path / ".partial.jpg").write_bytes(b"hidden: ignored")
        with open(tmp_path / "slow.jpg", "wb") as handle:  # written in two goes
            handle.write(b"x" * 1000)
            handle.flush()
            os.fsync(handle.fileno())
            time.sleep(0.2)
            handle.write(b"y" * 1000)
        (tmp_path / "cam").mkdir()
        (tmp_path / "cam" / "clip.MP4").write_bytes(b"z" * 10)

    writer = threading.Thread(target=drop_files)
    writer.start()
    timer = threading.Timer(20, stop.set)  # never hang the suite
    timer.start()
    try:
        watch(
            tmp_path,
            settle_s=1.0,
            handle=handle,
            idle=time.sleep,
            stop=stop,
            tick_s=0.05,
            existing=lambda: [tmp_path / "before.png"],
        )
    finally:
        timer.cancel()
        writer.join()

    flat = sorted(p for batch in handled for p in batch)
    assert flat == sorted([tmp_path / "before.png", tmp_path / "slow.jpg", tmp_path / "cam" / "clip.MP4"])
    assert (tmp_path / "slow.jpg").stat().st_size == 2000
