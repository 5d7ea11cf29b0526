"""The one place that reads the process environment and the project's `.env` file.

Each stage's `main` calls `read_environment()` once and builds its frozen settings
from the mapping it returns; nothing else in the project touches `os.environ`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from dotenv import dotenv_values

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DOTENV = PROJECT_ROOT / ".env"


def read_environment(dotenv_path: Path | None = None) -> dict[str, str]:
    """Variables from `.env` overlaid by the real environment (the environment wins,
    so a deployment can override any value without editing the file).

    `PIPELINE_DOTENV` names another file, e.g. for a remote stack."""
    path = dotenv_path or Path(os.environ.get("PIPELINE_DOTENV", DEFAULT_DOTENV))
    values: dict[str, str] = {}
    if path.is_file():
        values.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    values.update(os.environ)
    return values


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def require(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(
            f"{name} is not set: add it to .env (see .env.example) or the environment"
        )
    return value


def flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def number(env: Mapping[str, str], name: str, default: float, kind=float):
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a {kind.__name__}, got {raw!r}") from None
