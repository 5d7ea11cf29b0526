"""A plain copy of a Kafka message, so the processing code and its tests need no broker."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MessageRef:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None

    @classmethod
    def from_kafka(cls, message) -> "MessageRef":
        kind, timestamp = message.timestamp()
        return cls(
            topic=message.topic(),
            partition=message.partition(),
            offset=message.offset(),
            key=message.key(),
            value=message.value(),
            timestamp_ms=timestamp if kind else None,  # kind 0: TIMESTAMP_NOT_AVAILABLE
        )

    @property
    def where(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"
