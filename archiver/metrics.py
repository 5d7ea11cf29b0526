"""The archiver's Prometheus metrics (served by pipeline_common.metrics)."""

from prometheus_client import Counter, Gauge

EVENTS_ARCHIVED = Counter("pipeline_archiver_events_archived", "Detection events written to the archive.")
EVENTS_SKIPPED = Counter(
    "pipeline_archiver_events_skipped", "Messages that are no detection event (the live indexer dead-letters them)."
)
FILES_WRITTEN = Counter("pipeline_archiver_files_written", "Batch files written to the archive.")
LAST_COMMIT = Gauge(
    "pipeline_archiver_last_commit_timestamp_seconds", "When the archiver last committed offsets (Unix time)."
)
