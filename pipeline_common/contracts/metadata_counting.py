"""How the aggregation reads a metadata record: the bucketing time falls back to
`processed_at` when `captured_at` is unusable, and what cannot be counted raises
`BadRecord` with the counter name it is counted under. Shared by the aggregation job
(`hadoop/`) and the archive's backfill (`archiver/`), so records count the same whether
read from metadata/ or from the detection archive."""

from __future__ import annotations

from typing import Any

from .errors import ContractError, ErrorKind
from .field_types import utc_time
from .metadata import MetadataRecord

# the counter under "bad records" for each kind of contract error
BAD_RECORD_REASONS = {
    ErrorKind.EMPTY: "empty record",
    ErrorKind.INVALID_JSON: "invalid JSON",
    ErrorKind.NOT_AN_OBJECT: "not a JSON object",
    ErrorKind.UNSUPPORTED_VERSION: "unknown schema version",
    ErrorKind.MISSING_FIELD: "missing field",
    ErrorKind.INVALID_FIELD: "invalid field",
}


class BadRecord(ValueError):
    """A record the job skips; `reason` is the counter name, `detail` goes to the log."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    @classmethod
    def of(cls, error: ContractError) -> "BadRecord":
        return cls(BAD_RECORD_REASONS[error.kind], str(error))


def _valid_time(value: Any) -> bool:
    try:
        utc_time(value)
    except ContractError:
        return False
    return True


def parse_record(payload: str | bytes) -> tuple[MetadataRecord, str | None]:
    """Parse one metadata record; returns it and why it is bucketed by processed_at
    (None when captured_at was usable). Raises BadRecord, whatever the payload."""
    try:
        data = MetadataRecord.read_object(payload)
    except ContractError as error:
        raise BadRecord.of(error) from None
    fallback = None
    if "captured_at" not in data:
        fallback = "captured_at absent"
    elif not _valid_time(data["captured_at"]):
        fallback = "captured_at invalid"
    if fallback:
        if "processed_at" not in data:
            raise BadRecord("missing field", f"processed_at ({fallback})")
        if not _valid_time(data["processed_at"]):
            raise BadRecord("invalid timestamp", f"{fallback} and processed_at invalid")
        data = dict(data, captured_at=data["processed_at"])
    try:
        return MetadataRecord.validate(data), fallback
    except ContractError as error:
        raise BadRecord.of(error) from None
