"""Running a service as an unprivileged system user when we are root (Elasticsearch refuses root)."""

from __future__ import annotations

import logging
import os
import pwd
import stat
import subprocess
from pathlib import Path

from .errors import ServiceError

log = logging.getLogger(__name__)


def ensure_system_user(name: str, why: str) -> pwd.struct_passwd:
    """The account `name`, created (no home, no shell) on first use."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    log.info("creating the system user %s %s", name, why)
    result = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise ServiceError(f"could not create the user {name}: {result.stderr.strip()}")
    return pwd.getpwnam(name)


def run_as(user: pwd.struct_passwd | None) -> dict:
    """subprocess options that run the child as `user` (nothing when None: run as ourselves)."""
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def give_to(user: pwd.struct_passwd, directory: Path) -> None:
    """Make `user` own `directory` and everything under it."""
    for path in [directory, *directory.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)


def open_for_traversal(directories) -> None:
    """Let other users pass through (o+x, no listing) so a service user reaches its own dirs."""
    for directory in directories:
        directory.chmod(directory.stat().st_mode | stat.S_IXOTH)
