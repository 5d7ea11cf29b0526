"""Prometheus metrics endpoint of a long-running process (prometheus-client).

Each process reads its own port (CONSUMER_METRICS_PORT, LIVE_METRICS_PORT,
SCHEDULER_METRICS_PORT, FRONTEND_METRICS_PORT; 0 turns it off) and the shared
METRICS_HOST (127.0.0.1 by default: scrape it locally or behind the reverse proxy).
Metrics are module-level objects in each stage; this module only serves them."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Mapping

from prometheus_client import start_http_server

from .environment import SettingsError, number

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetricsSettings:
    port: int  # 0: no endpoint
    host: str = "127.0.0.1"

    @classmethod
    def from_env(cls, env: Mapping[str, str], port_variable: str, default_port: int) -> "MetricsSettings":
        port = number(env, port_variable, default_port, int)
        if not 0 <= port < 65536:
            raise SettingsError(f"{port_variable} must be between 0 (off) and 65535, got {port}")
        return cls(port=port, host=env.get("METRICS_HOST", "").strip() or "127.0.0.1")


def serve_metrics(settings: MetricsSettings) -> bool:
    """Starts the /metrics endpoint on a daemon thread. A port already in use is logged and
    the process goes on without metrics: they must never stop the pipeline itself."""
    if settings.port == 0:
        return False
    try:
        start_http_server(settings.port, addr=settings.host)
    except OSError as error:
        log.warning("metrics: cannot listen on %s:%d (%s); running without /metrics", settings.host, settings.port, error)
        return False
    log.info("metrics on http://%s:%d/metrics", settings.host, settings.port)
    return True
