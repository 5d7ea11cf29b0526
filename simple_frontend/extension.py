"""What one app instance holds: its settings, its Elasticsearch adapter, its clock and its caches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from flask import current_app

from .cache import AnswerCache, RecentAnswer
from .settings import FrontendSettings
from .store import CountsStore

KEY = "simple_frontend"


@dataclass(frozen=True)
class Frontend:
    settings: FrontendSettings
    store: CountsStore
    clock: Callable[[], datetime]
    # Closes the Elasticsearch client if the app created it; runs once, at the latest
    # when the app is garbage-collected or the interpreter exits.
    close: Callable[[], None]
    answers: AnswerCache  # the count endpoints' answers, per data generation
    health: RecentAnswer  # /api/health's answer, reused for FRONTEND_CACHE_MAX_STALENESS_S

    def minute(self) -> datetime:
        """The current minute: relative times (now-24h) resolve the same within it."""
        return self.clock().replace(second=0, microsecond=0)


def frontend() -> Frontend:
    return current_app.extensions[KEY]
