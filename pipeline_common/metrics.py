"""Prometheus metrics endpoint of a long-running process (prometheus-client).

Each process reads its own port (CONSUMER_METRICS_PORT, LIVE_METRICS_PORT,
SCHEDULER_METRICS_PORT, FRONTEND_METRICS_PORT; 0 turns it off) and the shared
METRICS_HOST (127.0.0.1 by default: scrape it locally or behind the reverse proxy).
Metrics are module-level objects in each stage; this module only serves them."""

from __future__ import annotations

import logging
from typing import Annotated

from prometheus_client import start_http_server
from pydantic import Field

from .environment import Settings

log = logging.getLogger(__name__)

# 0: no endpoint
MetricsPort = Annotated[int, Field(ge=0, le=65535)]


class MetricsSettings(Settings):
    """The endpoint of one process. Each stage subclasses it to declare its own port
    variable: `port: MetricsPort = Field(9101, alias="CONSUMER_METRICS_PORT", ...)`."""

    port: MetricsPort = 0
    host: str = Field(
        "127.0.0.1",
        alias="METRICS_HOST",
        min_length=1,
        description="Address every /metrics endpoint listens on: scrape it locally or behind the reverse proxy.",
    )


def serve_metrics(settings: MetricsSettings) -> bool:
    """Starts the /metrics endpoint on a daemon thread. A port already in use is logged and
    the process goes on without metrics: they must never stop the pipeline itself."""
    if settings.port == 0:
        return False
    try:
        start_http_server(settings.port, addr=settings.host)
    except OSError as error:
        log.warning(
            "metrics: cannot listen on %s:%d (%s); running without /metrics", settings.host, settings.port, error
        )
        return False
    log.info("metrics on http://%s:%d/metrics", settings.host, settings.port)
    return True
