"""Field checks shared by the contract parsers."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from ..timestamps import parse_iso
from .errors import ContractError


def as_mapping(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ContractError(f"{what} must be a JSON object, got {type(data).__name__}")
    return data


def field(data: Mapping[str, Any], name: str, kind: type | tuple, what: str) -> Any:
    if name not in data:
        raise ContractError(f"{what}: missing field {name!r}")
    value = data[name]
    # bool is an int in Python; a count or size of `true` is still wrong
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise ContractError(f"{what}: field {name!r} must be a number, got a boolean")
    if not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ContractError(
            f"{what}: field {name!r} must be {expected}, got {type(value).__name__}"
        )
    return value


def time_field(data: Mapping[str, Any], name: str, what: str) -> datetime:
    raw = field(data, name, str, what)
    try:
        return parse_iso(raw)
    except (ValueError, OverflowError) as error:  # year 1 with a +01:00 offset overflows
        raise ContractError(f"{what}: field {name!r}: {error}") from None


def non_negative(value: int | float, name: str, what: str) -> int | float:
    if value < 0:
        raise ContractError(f"{what}: field {name!r} must not be negative, got {value}")
    return value


def schema_version(data: Mapping[str, Any], supported: int, what: str) -> int:
    version = field(data, "schema_version", int, what)
    if version != supported:
        raise ContractError(
            f"{what}: unsupported schema_version {version} (this code reads {supported})"
        )
    return version
