"""Writes the project's `.env` from `.env.example` on the first `up`, with random secrets."""
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


def fill_placeholders(example: str, make_secret: Callable[[str], str] = generate_secret) -> str:
    """The text of `example` with every `NAME=<generated>` given a fresh value."""
    lines = []
    for line in example.splitlines(keepends=True):
        match = _LINE.match(line.rstrip("\r\n"))
        if match and match["value"].strip() == PLACEHOLDER:
            ending = line[len(line.rstrip("\r\n")):]
            line = f"{match['name']}={make_secret(match['name'])}{ending}"
        lines.append(line)
    return "".join(lines)


def ensure_env_file(example: Path, target: Path) -> bool:
    """Create `target` from `example` unless it exists; True when it was written.

    An existing file is never touched: it may hold the passwords the services' data
    were created with."""
    if target.exists():
        return False
    if not example.is_file():
        raise FileNotFoundError(f"{example} is missing: cannot create {target}")
    text = fill_placeholders(example.read_text())
    # O_EXCL: if another `up` wrote it in the meantime, keep theirs.
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    log.info("wrote %s with fresh random secrets (keep it; never commit it)", target)
    return True
