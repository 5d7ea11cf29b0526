"""The dashboard's one settings object, built once from the environment (and the
command line: `--host`, `--port`, `--index`)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from pipeline_common.environment import Settings
from pipeline_common.metrics import MetricsPort, MetricsSettings
from pipeline_common.settings import DashboardPort, FrontendElasticsearchSettings, FrontendS3Settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5001
DEFAULT_MAX_BUCKETS = 2000
# Elasticsearch refuses a search over search.max_buckets (65 536 by default) as an error:
# a timeline of 50 labels x 2000 buckets must be a 400 that says why, not a 5xx.
DEFAULT_MAX_TOTAL_BUCKETS = 20_000
DEFAULT_BATCH_LATENESS_S = 300.0


class FrontendMetrics(MetricsSettings):
    port: MetricsPort = Field(
        9104,
        alias="FRONTEND_METRICS_PORT",
        description="The dashboard's Prometheus /metrics port (`count-dashboard`); 0: none.",
    )


class GallerySettings(Settings):
    """The images the gallery shows (simple_frontend/gallery.py)."""

    thumbnail_px: int = Field(
        320,
        alias="FRONTEND_THUMBNAIL_PX",
        ge=16,
        le=4096,
        description="Longest side of a thumbnail when the request names no size, in pixels.",
    )
    max_thumbnail_px: int = Field(
        640,
        alias="FRONTEND_THUMBNAIL_MAX_PX",
        ge=16,
        le=4096,
        description="Largest thumbnail size a request may ask for (longest side, pixels); "
        "bigger asks get a 400 (the full image has its own route).",
    )
    cache_mb: float = Field(
        64.0,
        alias="FRONTEND_THUMBNAIL_CACHE_MB",
        ge=0,
        le=65536,
        description="Memory for made thumbnails, per app process (least recently used go first); 0: none are kept.",
    )

    @property
    def cache_bytes(self) -> int:
        return int(self.cache_mb * 1024 * 1024)


class FrontendSettings(Settings):
    # the API's own, read-only account; its index (ES_INDEX) is the one read
    elasticsearch: FrontendElasticsearchSettings
    metrics: FrontendMetrics = Field(default_factory=FrontendMetrics)
    # the dashboard's own S3 account, which may only read images/ (the gallery's originals
    # and thumbnails); None (a test's app without it): the image routes answer 503
    images: FrontendS3Settings | None = None
    gallery: GallerySettings = Field(default_factory=GallerySettings)
    host: str = Field(
        DEFAULT_HOST,
        alias="FRONTEND_HOST",
        min_length=1,
        description="Where `python simple_frontend/app.py` listens; keep 127.0.0.1 unless a proxy sits in front.",
    )
    port: DashboardPort = DEFAULT_PORT
    # (to - from) / interval may not exceed this: a year of minutes would make ES and
    # the browser build half a million points.
    max_buckets: int = Field(
        DEFAULT_MAX_BUCKETS,
        alias="FRONTEND_MAX_BUCKETS",
        ge=1,
        le=100_000,
        description="Largest number of buckets one timeline may hold ((to - from) / interval); bigger asks get a 400.",
    )
    max_total_buckets: int = Field(
        DEFAULT_MAX_TOTAL_BUCKETS,
        alias="FRONTEND_MAX_TOTAL_BUCKETS",
        ge=1,
        le=60_000,
        description="Largest number of points one timeline may hold in all (labels x "
        "buckets; under Elasticsearch's search.max_buckets); bigger asks get a 400.",
    )
    # Answers are cached per worker, keyed by the normalised query and the data's
    # generation (the batch index's newest runs, documents and indexing time; the live
    # indices' images and newest indexing time). The generation is looked up at most this
    # often, so an answer is never older than this after new data is searchable.
    # 1 s: the generation look-up is one small query per second and worker, while a
    # longer bound adds its whole length to a live photo's time to the dashboard (issue 9:
    # p95 under 5 s from landing to the API).
    max_staleness_s: float = Field(
        1.0,
        alias="FRONTEND_CACHE_MAX_STALENESS_S",
        ge=0,
        le=3600,
        description="How stale an answer may be, in seconds: how often the data's generation (stored intervals, "
        "newest runs, newest batch and live documents) is looked up; 0: on every request.",
    )
    cached_answers: int = Field(
        1024,
        alias="FRONTEND_CACHE_ANSWERS",
        ge=0,
        le=1_000_000,
        description="How many API answers each worker keeps (least recently used go first); 0: no answer cache.",
    )
    workers: int = Field(
        2,
        alias="FRONTEND_WORKERS",
        ge=1,
        le=64,
        description="gunicorn worker processes (simple_frontend/gunicorn.conf.py).",
    )
    threads: int = Field(
        8,
        alias="FRONTEND_THREADS",
        ge=1,
        le=256,
        description="Threads per gunicorn worker (simple_frontend/gunicorn.conf.py).",
    )
    # How long after its capture an image may still reach the pipeline and be missing
    # from a batch run that started later: buckets this close to the run's watermark
    # stay live (see pipeline_common/watermark.py).
    batch_lateness_s: float = Field(
        DEFAULT_BATCH_LATENESS_S,
        alias="FRONTEND_BATCH_LATENESS_S",
        ge=0,
        le=7 * 86400,
        description="How late (seconds after capture) an image may still arrive: buckets this close to a batch "
        "run's watermark are still counted from the live indices.",
    )

    @property
    def batch_lateness(self) -> timedelta:
        return timedelta(seconds=self.batch_lateness_s)
