"""Where the local development services keep their state (data, logs, configs, the
local Hadoop install): shared by `local_services` and the stages that default to it."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field

from .environment import PROJECT_ROOT

# Where root keeps the state of a checkout that other users cannot reach (see below).
SHARED_STATE_ROOT = Path("/var/lib/image-pipeline")


def traversable_by_others(path: Path) -> bool:
    """Whether a user other than the owner can reach `path` (every parent has o+x)."""
    for part in [path, *path.parents]:
        try:
            if not part.stat().st_mode & stat.S_IXOTH:
                return False
        except FileNotFoundError:
            continue
    return True


def default_local_dir(project_root: Path = PROJECT_ROOT, as_root: bool | None = None) -> Path:
    """`.local` in the checkout. Elasticsearch runs as its own unprivileged user, so when
    root works in a checkout other users cannot pass through (say under /root), the state
    goes to a folder of this checkout's own under /var/lib instead."""
    as_root = os.geteuid() == 0 if as_root is None else as_root
    if as_root and not traversable_by_others(project_root):
        checkout = hashlib.sha256(str(project_root).encode()).hexdigest()[:12]
        return SHARED_STATE_ROOT / checkout
    return project_root / ".local"


def _in_checkout(path: Path) -> Path:
    """Relative paths are relative to the checkout, not to the working directory."""
    path = path.expanduser()
    return (path if path.is_absolute() else PROJECT_ROOT / path).resolve()


# PIPELINE_LOCAL_DIR, read by `local_services` and by the aggregation (the local Hadoop's
# home); give it `Field(default_factory=default_local_dir)` where it is used.
LocalDir = Annotated[
    Path,
    AfterValidator(_in_checkout),
    Field(
        alias="PIPELINE_LOCAL_DIR",
        description="Data, logs, pid files and the Hadoop install of the local services "
        "(relative: to the checkout); default .local in the checkout.",
    ),
]
