"""The one error every contract parser raises, whatever went wrong inside it."""

from __future__ import annotations

from enum import Enum


class ErrorKind(str, Enum):
    """What was wrong, for code that counts or routes errors (never match the text)."""

    EMPTY = "empty"  # no bytes, or only whitespace
    INVALID_JSON = "invalid JSON"  # not JSON, not UTF-8, nested too deep, a number out of range
    NOT_AN_OBJECT = "not a JSON object"  # JSON, but not an object at the top level
    UNSUPPORTED_VERSION = "unsupported schema version"  # an object of a schema_version this code cannot read
    MISSING_FIELD = "missing field"  # a required field is absent
    INVALID_FIELD = "invalid field"  # a field of the wrong type or out of range, or fields that disagree


class ContractError(ValueError):
    """A record does not match its contract; the message says what was expected and what
    arrived. `kind` tells the kind of failure, `field` the field to blame (a path such as
    ``detections[0].confidence``), or None when no single field is."""

    def __init__(self, message: str, kind: ErrorKind = ErrorKind.INVALID_FIELD, field: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.field = field

    def __reduce__(self):  # survives pickling (worker processes) with its kind and field
        return type(self), (str(self), self.kind, self.field)
