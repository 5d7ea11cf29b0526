"""Exponential backoff with jitter, for the retries of transient failures in every stage."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class Backoff:
    initial_s: float = 0.5
    maximum_s: float = 30.0
    factor: float = 2.0

    def delays(self) -> Iterator[float]:
        delay = self.initial_s
        while True:
            # jitter keeps several consumers from hammering a recovering service in step
            yield delay * random.uniform(0.8, 1.2)
            delay = min(delay * self.factor, self.maximum_s)
