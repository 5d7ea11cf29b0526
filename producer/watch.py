"""`watch`: prepare and announce files as they land in new_pics/, until told to stop.

Filesystem events only say that something happened to a path; a file counts as
complete once its size and modification time have stayed the same for the settle
time, so half-copied pictures are not read."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from .prepare import kind_of

log = logging.getLogger(__name__)

# An empty file is usually one that was just created and is about to be written.
EMPTY_FILE_GRACE_S = 5.0


class Settler:
    """Tracks changed paths and says which ones have stopped changing."""

    def __init__(self, settle_s: float):
        self.settle_s = settle_s
        self._pending: dict[Path, tuple[tuple[int, int] | None, float]] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def changed(self, path: Path, now: float) -> None:
        self._pending[path] = (None, now)

    def ready(self, now: float, stat: Callable[[Path], os.stat_result] = os.stat) -> list[Path]:
        done = []
        for path, (signature, since) in list(self._pending.items()):
            try:
                info = stat(path)
            except FileNotFoundError:
                del self._pending[path]  # removed or renamed away before it settled
                continue
            current = (info.st_size, info.st_mtime_ns)
            if current != signature:
                self._pending[path] = (current, now)
                continue
            wait = self.settle_s if info.st_size > 0 else max(self.settle_s, EMPTY_FILE_GRACE_S)
            if now - since >= wait:
                del self._pending[path]
                done.append(path)
        return sorted(done)


class _Collector(FileSystemEventHandler):
    """Runs on watchdog's thread: only queues paths for the main loop."""

    def __init__(self, root: Path, paths: "queue.Queue[Path]"):
        self.root = root
        self.paths = paths

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type in {"deleted", "opened", "closed_no_write"}:
            return
        raw = getattr(event, "dest_path", "") or event.src_path
        path = Path(os.fsdecode(raw))
        try:
            relative = path.relative_to(self.root)
        except ValueError:
            return  # moved out of the folder
        if any(part.startswith(".") for part in relative.parts) or kind_of(path) is None:
            return
        self.paths.put(path)


def watch(
    folder: Path,
    settle_s: float,
    handle: Callable[[list[Path]], None],
    idle: Callable[[float], None],
    stop: threading.Event,
    tick_s: float = 0.2,
    existing: Callable[[], Iterable[Path]] = lambda: (),
) -> None:
    """Call `handle(paths)` for files that land in `folder` and settled, and
    `idle(seconds)` (e.g. serve Kafka delivery reports) between checks.

    `existing()` lists files already there; it is called once the observer runs, so a
    file arriving meanwhile is seen by one or the other (or both: the caller's ledgers
    make a second look harmless). Those files settle like any other, as they may still
    be being written."""
    folder.mkdir(parents=True, exist_ok=True)
    changes: "queue.Queue[Path]" = queue.Queue()
    settler = Settler(settle_s)
    observer = Observer()
    observer.schedule(_Collector(folder.resolve(), changes), str(folder.resolve()), recursive=True)
    observer.start()
    for path in existing():
        settler.changed(path, time.monotonic())
    log.info("watching %s (stop with Ctrl-C or SIGTERM)", folder)
    try:
        while not stop.is_set():
            now = time.monotonic()
            while True:
                try:
                    settler.changed(changes.get_nowait(), now)
                except queue.Empty:
                    break
            ready = settler.ready(now)
            if ready:
                handle(ready)
            idle(tick_s)
    finally:
        observer.stop()
        observer.join(timeout=5)
