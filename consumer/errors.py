"""How the consumer classifies what went wrong, which decides what happens next.

- `Rejected`: this message can never be processed -> dead-letter topic, then move on.
- `TransientError`: a service hiccup (connection refused, 5xx, throttling) -> retry
  with backoff; the offset is not stored meanwhile.
- `FatalError`: the consumer itself is misconfigured (bad credentials, missing bucket)
  -> stop without storing the offset, so nothing is lost and an operator is alerted.
- `Abandoned`: a retry loop gave up because the consumer is shutting down; the
  message is handed back (its offset is not stored) and will be redelivered.
"""

from __future__ import annotations

from enum import Enum


class Stage(str, Enum):
    PARSE = "parse"
    DOWNLOAD = "download"
    DECODE = "decode"
    DETECT = "detect"
    WRITE = "write"


class Rejected(Exception):
    def __init__(self, stage: Stage, reason: str):
        super().__init__(f"{stage.value}: {reason}")
        self.stage = stage
        self.reason = reason


class TransientError(Exception):
    """Worth retrying: the same call may well succeed in a moment."""


class FatalError(Exception):
    """Retrying or dead-lettering would not help: the consumer must stop."""


class TooLarge(FatalError):
    """Kafka refused a message as too large: fatal for that message, but a smaller one
    (a dead letter with the original's hash only) may still go through."""


class Abandoned(Exception):
    """Retrying stopped because shutdown was requested; the message is handed back."""
