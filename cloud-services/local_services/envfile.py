"""Writes the project's `.env` from `.env.example` on the first `up`, with random secrets;
later `up`s add the variables a newer `.env.example` brought, never touching a value."""

from __future__ import annotations

import logging
import os
import re
import secrets
import string
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

PLACEHOLDER = "<generated>"
# Replaced by a path of this machine's local stack (the value `up` passes for it).
LOCAL_CA = "<local-ca>"
_LINE = re.compile(r"^(?P<name>[A-Z0-9_]+)=(?P<value>.*)$")


def generate_secret(name: str) -> str:
    """A random value shaped like what the variable holds."""
    if name.endswith("ACCESS_KEY"):
        # Looks like an AWS access key id (20 upper-case letters and digits), which some
        # S3 tools check before sending anything.
        alphabet = string.ascii_uppercase + string.digits
        return "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))
    # URL-safe, so it survives .env quoting, JAAS configs and URLs without escaping.
    return secrets.token_urlsafe(24)


def fill_placeholders(
    example: str, make_secret: Callable[[str], str] = generate_secret, values: dict[str, str] | None = None
) -> str:
    """The text of `example` with every `NAME=<generated>` given a fresh value and every
    other `NAME=<placeholder>` of `values` that placeholder's value."""
    values = values or {}
    lines = []
    for line in example.splitlines(keepends=True):
        match = _LINE.match(line.rstrip("\r\n"))
        value = match["value"].strip() if match else ""
        if match and (value == PLACEHOLDER or value in values):
            ending = line[len(line.rstrip("\r\n")) :]
            filled = make_secret(match["name"]) if value == PLACEHOLDER else values[value]
            line = f"{match['name']}={filled}{ending}"
        lines.append(line)
    return "".join(lines)


def missing_lines(example: str, existing: str) -> list[str]:
    """The `NAME=value` lines of `example` whose NAME `existing` does not set."""
    have = {m["name"] for m in map(_LINE.match, existing.splitlines()) if m}
    return [line for line in example.splitlines() if (m := _LINE.match(line)) and m["name"] not in have]


def ensure_env_file(example: Path, target: Path, values: dict[str, str] | None = None) -> bool:
    """Create `target` from `example` unless it exists; True when it was written.

    An existing file keeps every value (it may hold the passwords the services' data were
    created with); only variables it lacks are appended, filled in as for a new file."""
    if not example.is_file():
        raise FileNotFoundError(f"{example} is missing: cannot create {target}")
    if target.exists():
        added = missing_lines(example.read_text(), target.read_text())
        if added:
            text = fill_placeholders("\n".join(added) + "\n", values=values)
            with open(target, "a") as handle:
                handle.write(f"\n# Added by `make up` from a newer .env.example:\n{text}")
            names = ", ".join(line.split("=", 1)[0] for line in added)
            log.info("added to %s what .env.example has and it lacked: %s", target, names)
        return False
    text = fill_placeholders(example.read_text(), values=values)
    # O_EXCL: if another `up` wrote it in the meantime, keep theirs.
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    log.info("wrote %s with fresh random secrets (keep it; never commit it)", target)
    return True
