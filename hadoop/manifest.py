"""Manifests: the job's input when it reads many small objects. Each line names one
metadata object, or (tagged `aggregates<TAB>`) a part file of an earlier run's totals
to add to; the map task fetches them in a thread pool."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from .object_counts_job import AGGREGATES_TAG, EVENTS_TAG


def aggregates_line(uri: str) -> str:
    """Manifest entry for a file of `Aggregate` lines (an earlier run's totals)."""
    return f"{AGGREGATES_TAG}\t{uri}"


def events_line(uri: str) -> str:
    """Manifest entry for a file of the detection archive."""
    return f"{EVENTS_TAG}\t{uri}"


def chunked(items: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_groups(groups: list[list[str]], directory: Path, name: str = "manifest") -> list[Path]:
    """A `manifest-NNNNN.txt` file per group of lines (one map task each); at least one."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, group in enumerate(groups or [[]]):
        path = directory / f"{name}-{number:05d}.txt"
        path.write_text("".join(f"{line}\n" for line in group), encoding="utf-8")
        paths.append(path)
    return paths


def write_manifests(
    uris: Iterable[str], directory: Path, lines_per_file: int, name: str = "manifest"
) -> tuple[list[Path], int]:
    """Write `manifest-NNNNN.txt` files of at most `lines_per_file` URIs each; one map
    task per file on Hadoop. Always writes at least one (maybe empty) file, so a run
    over an empty prefix still runs and publishes an empty result.

    Returns the files and the number of URIs written."""
    directory.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    total = 0
    for number, chunk in enumerate(chunked(uris, lines_per_file)):
        path = directory / f"{name}-{number:05d}.txt"
        path.write_text("".join(f"{uri}\n" for uri in chunk), encoding="utf-8")
        paths.append(path)
        total += len(chunk)
    if not paths:
        path = directory / f"{name}-00000.txt"
        path.write_text("", encoding="utf-8")
        paths.append(path)
    return paths, total
