"""Unpacking downloaded archives atomically (an interrupted unpack leaves no half directory)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path


def unpack_zip(archive: Path, top_level: str, destination: Path) -> None:
    """Unpack `archive`, whose content sits in `top_level/`, so that it becomes `destination`."""
    partial = destination.with_name(destination.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.infolist():
            extracted = Path(zipped.extract(member, partial))
            mode = member.external_attr >> 16  # zipfile drops the permission bits
            if mode:
                extracted.chmod(mode & 0o777)
    destination.parent.mkdir(parents=True, exist_ok=True)
    (partial / top_level).rename(destination)
    shutil.rmtree(partial, ignore_errors=True)
