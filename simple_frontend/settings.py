"""The dashboard's one settings object, built once from the environment."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Mapping

from pipeline_common.environment import SettingsError, number
from pipeline_common.metrics import MetricsSettings
from pipeline_common.settings import ElasticsearchSettings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5001
DEFAULT_MAX_BUCKETS = 2000
DEFAULT_BATCH_LATENESS_S = 300.0


@dataclass(frozen=True)
class FrontendSettings:
    elasticsearch: ElasticsearchSettings
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    # (to - from) / interval may not exceed this: a year of minutes would make ES and
    # the browser build half a million points.
    max_buckets: int = DEFAULT_MAX_BUCKETS
    # Which intervals the index holds changes only when the indexer runs, so the answer
    # is cached for this long instead of costing an extra query per request.
    intervals_cache_seconds: float = 30.0
    # How long after its capture an image may still reach the pipeline and be missing
    # from a batch run that started later: buckets this close to the run's watermark
    # stay live (see pipeline_common/watermark.py).
    batch_lateness_s: float = DEFAULT_BATCH_LATENESS_S
    metrics: MetricsSettings = MetricsSettings(port=0)

    @property
    def batch_lateness(self) -> timedelta:
        return timedelta(seconds=self.batch_lateness_s)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "FrontendSettings":
        port = number(env, "FRONTEND_PORT", DEFAULT_PORT, int)
        if not 0 < port < 65536:
            raise SettingsError(f"FRONTEND_PORT must be between 1 and 65535, got {port}")
        max_buckets = number(env, "FRONTEND_MAX_BUCKETS", DEFAULT_MAX_BUCKETS, int)
        if not 1 <= max_buckets <= 100_000:
            raise SettingsError(
                f"FRONTEND_MAX_BUCKETS must be between 1 and 100000, got {max_buckets}"
            )
        cache = number(env, "FRONTEND_INTERVALS_CACHE_SECONDS", 30.0, float)
        if cache < 0:
            raise SettingsError(f"FRONTEND_INTERVALS_CACHE_SECONDS must be >= 0, got {cache}")
        lateness = number(env, "FRONTEND_BATCH_LATENESS_S", DEFAULT_BATCH_LATENESS_S, float)
        if not 0 <= lateness <= 7 * 86400:
            raise SettingsError(f"FRONTEND_BATCH_LATENESS_S must be between 0 and 604800, got {lateness}")
        return cls(
            elasticsearch=ElasticsearchSettings.from_env(env, account="FRONTEND"),
            batch_lateness_s=lateness,
            host=env.get("FRONTEND_HOST", DEFAULT_HOST).strip() or DEFAULT_HOST,
            port=port,
            max_buckets=max_buckets,
            intervals_cache_seconds=cache,
            metrics=MetricsSettings.from_env(env, "FRONTEND_METRICS_PORT", 9104),
        )
