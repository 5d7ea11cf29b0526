"""How a contract is declared: a frozen pydantic dataclass whose fields carry their types
and checks, built, parsed and serialised here, with every failure as a ContractError.

- `@contract` declares one (a record, or a part of one such as a detection); building
  it from Python validates the fields like parsing does.
- `Record` adds the envelope every record has on the wire: a JSON object with a
  `schema_version`, read by `from_dict` / `from_json_bytes`, written by `to_dict`.

A parser here is total: whatever the input, it returns a record or raises ContractError.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from typing import Any, ClassVar, Self, TypeVar, dataclass_transform

import pydantic
import pydantic_core
from pydantic import ConfigDict, ValidationError
from pydantic.dataclasses import dataclass as pydantic_dataclass
from pydantic_core import PydanticCustomError

from .errors import ContractError, ErrorKind

C = TypeVar("C", bound=type)

# fields a newer writer added are ignored, as the hand-written parsers did
_CONFIG = ConfigDict(extra="ignore")
_SHOWN_CHARACTERS = 60
MAX_REASON = 300  # characters of a message: enough to see the problem, small enough for a log line


def fail(reason: str, field: str | None = None) -> PydanticCustomError:
    """The error a field check raises; `reason` completes "field 'x' ...". `field` names
    the field to blame when the check spans several (a record-level check)."""
    context: dict[str, Any] = {"reason": reason}
    if field is not None:
        context["field"] = field
    return PydanticCustomError("contract", "{reason}", context)


def show(value: Any) -> str:
    """A short, JSON-like rendering of any value, for messages. Total: no repr of a huge
    integer (over Python's conversion limit) or of a long text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if -(10**30) < value < 10**30 else f"an integer of {value.bit_length()} bits"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, str):
        if len(value) > _SHOWN_CHARACTERS:
            return repr(value[:_SHOWN_CHARACTERS]) + f"... ({len(value)} characters)"
        return repr(value)
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return f"a {type(value).__name__}"


def _shorten(message: str) -> str:
    return message if len(message) <= MAX_REASON else message[: MAX_REASON - 3] + "..."


def _path(loc: tuple) -> str:
    path = ""
    for part in loc:
        if part == "[key]":  # pydantic's mark for "the key itself", after the key
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


_EXPECTED = {  # pydantic's type errors -> the Python type expected, as the JSON reader makes it
    "int_type": "int",
    "int_parsing": "int",
    "int_from_float": "int",
    "float_type": "int/float",
    "float_parsing": "int/float",
    "string_type": "str",
    "dict_type": "dict",
    "dataclass_type": "dict",
    "dataclass_exact_type": "dict",
    "model_type": "dict",
    "tuple_type": "list",
    "list_type": "list",
}


def _reason(kind: str, context: dict[str, Any], message: str, value: Any) -> str:
    """pydantic's error types as words that complete "field 'x' ..."."""
    if kind in _EXPECTED:
        if isinstance(value, bool) and _EXPECTED[kind] in ("int", "int/float"):
            return "must be a number, got a boolean"  # bool is an int in Python, never in a record
        return f"must be {_EXPECTED[kind]}, got {show(value)}"
    if kind == "finite_number":
        return f"must be a finite number, got {show(value)}"
    if kind == "greater_than_equal":
        floor = context.get("ge")
        expected = "must not be negative" if floor == 0 else f"must be at least {floor}"
        return f"{expected}, got {show(value)}"
    if kind == "less_than_equal":
        return f"must be at most {context.get('le')}, got {show(value)}"
    return f"is invalid ({message}), got {show(value)}"


def contract_error(what: str, error: ValidationError, names: tuple[str, ...] = ()) -> ContractError:
    """The first problem pydantic found, as a ContractError. `names` maps positional
    arguments (a record built in code) to their field names."""
    first = error.errors(include_url=False)[0]
    kind, loc, context = first["type"], tuple(first["loc"]), first.get("ctx") or {}
    if loc and isinstance(loc[0], int) and loc[0] < len(names):
        loc = (names[loc[0]], *loc[1:])
    located = _path(loc)
    field = located or context.get("field")
    if kind == "missing":
        return ContractError(f"{what}: missing field {field!r}", ErrorKind.MISSING_FIELD, field)
    if not loc and kind in ("dict_type", "dataclass_type", "dataclass_exact_type", "model_type"):
        return ContractError(f"{what} must be a JSON object, got {show(first.get('input'))}", ErrorKind.NOT_AN_OBJECT)
    if kind == "contract":
        reason = str(context["reason"])
    else:
        reason = _reason(kind, context, first["msg"], first.get("input"))
    message = f"{what}: field {located!r} {reason}" if located else f"{what}: {reason}"
    return ContractError(_shorten(message), ErrorKind.INVALID_FIELD, field)


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, pydantic.Field))
def contract(cls: C) -> C:
    """Declare a contract: a frozen pydantic dataclass whose construction raises
    ContractError rather than pydantic's ValidationError."""
    cls = pydantic_dataclass(frozen=True, config=_CONFIG)(cls)
    names = tuple(f.name for f in dataclasses.fields(cls))
    validated_init = cls.__init__

    @functools.wraps(validated_init)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            validated_init(self, *args, **kwargs)
        except ValidationError as error:
            raise contract_error(type(self).WHAT, error, names) from None

    cls.__init__ = __init__
    return cls


class Part:
    """Validation and serialisation shared by every contract (records and their parts)."""

    WHAT: ClassVar[str]
    __pydantic_validator__: ClassVar[Any]
    __pydantic_serializer__: ClassVar[Any]

    @classmethod
    def validate(cls, data: Any) -> Self:
        """The contract from a JSON value (dicts, lists, strings, numbers, ...)."""
        try:
            return cls.__pydantic_validator__.validate_python(data)
        except ValidationError as error:
            raise contract_error(cls.WHAT, error) from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields in declaration order; an optional field left at None is
        left out, so adding one keeps the bytes of records without it."""
        return self.__pydantic_serializer__.to_python(self, mode="json", exclude_none=True)

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        return cls.validate(data)


@contract
class _Envelope(Part):
    """What every record on the wire starts with."""

    WHAT: ClassVar[str] = "record"
    schema_version: pydantic.StrictInt


def read_json(payload: Any, what: str, noun: str) -> Any:
    """Any JSON value from bytes or text: ContractError for everything else."""
    if isinstance(payload, memoryview):
        payload = payload.tobytes()
    if payload is None or (isinstance(payload, (bytes, bytearray, str)) and not payload.strip()):
        raise ContractError(f"{what}: empty {noun}", ErrorKind.EMPTY)
    if not isinstance(payload, (bytes, bytearray, str)):
        raise ContractError(f"{what}: expected bytes or text, got {show(payload)}", ErrorKind.INVALID_JSON)
    try:
        # pydantic's JSON reader: UTF-8 only, nesting and number sizes bounded
        return pydantic_core.from_json(payload)
    except ValueError as error:
        raise ContractError(_shorten(f"{what}: not valid JSON ({error})"), ErrorKind.INVALID_JSON) from None


class Record(Part):
    """A contract that travels between stages: a JSON object with a `schema_version`."""

    SCHEMA_VERSION: ClassVar[int]
    NOUN: ClassVar[str] = "record"  # what one serialised record is called: message, line, ...

    @classmethod
    def check_envelope(cls, data: Any) -> dict[str, Any]:
        """`data` as the JSON object of a version this code reads (its fields unchecked)."""
        version = data.get("schema_version") if type(data) is dict else None
        if type(version) is int and version == cls.SCHEMA_VERSION:  # the usual case, without a validator call
            return data
        try:
            version = _Envelope.__pydantic_validator__.validate_python(data).schema_version
        except ValidationError as error:
            raise contract_error(cls.WHAT, error) from None
        if version != cls.SCHEMA_VERSION:
            raise ContractError(
                f"{cls.WHAT}: unsupported schema_version {show(version)} (this code reads {cls.SCHEMA_VERSION})",
                ErrorKind.UNSUPPORTED_VERSION,
                "schema_version",
            )
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        return cls.validate(cls.check_envelope(data))

    @classmethod
    def read_object(cls, payload: Any) -> dict[str, Any]:
        """The serialised record as a JSON object of a version this code reads."""
        return cls.check_envelope(read_json(payload, cls.WHAT, cls.NOUN))

    @classmethod
    def from_json_bytes(cls, payload: Any) -> Self:
        return cls.validate(cls.read_object(payload))

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": self.SCHEMA_VERSION, **super().to_dict()}

    def to_json_bytes(self) -> bytes:
        """Compact JSON, ASCII only (other characters escaped), as the stages always wrote it."""
        return json.dumps(self.to_dict(), separators=(",", ":")).encode("utf-8")
