"""The metrics endpoints' settings and what each stage records (prometheus-client's registry)."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client import REGISTRY

from consumer import metrics as consumer_metrics
from consumer.settings import ConsumerMetrics
from es_live.settings import LiveMetrics
from pipeline_common.environment import SettingsError
from pipeline_common.metrics import MetricsSettings, serve_metrics
from scheduler import metrics as scheduler_metrics
from tests.support.ports import free_port, taken_port


def value(name: str, **labels) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_metrics_settings_default_to_loopback_and_the_stage_port():
    settings = ConsumerMetrics.from_env({})
    assert (settings.host, settings.port) == ("127.0.0.1", 9101)
    settings = ConsumerMetrics.from_env({"CONSUMER_METRICS_PORT": "0", "METRICS_HOST": "0.0.0.0"})
    assert (settings.host, settings.port) == ("0.0.0.0", 0)


@pytest.mark.parametrize("raw", ["-1", "65536", "nine"])
def test_a_bad_metrics_port_is_a_settings_error_naming_the_variable(raw):
    with pytest.raises(SettingsError, match="LIVE_METRICS_PORT"):
        LiveMetrics.from_env({"LIVE_METRICS_PORT": raw})


def test_port_zero_serves_nothing_and_a_taken_port_does_not_stop_the_process():
    assert serve_metrics(MetricsSettings(port=0)) is False
    with taken_port() as port:
        assert serve_metrics(MetricsSettings(port=port)) is False


def test_the_endpoint_serves_the_registry_in_the_text_format():
    port = free_port()
    assert serve_metrics(MetricsSettings(port=port)) is True
    consumer_metrics.IMAGES_PROCESSED.inc()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    assert "pipeline_consumer_images_processed_total" in text


def test_consumer_lag_comes_from_librdkafka_statistics_per_assigned_partition():
    stats = {
        "topics": {
            "images-lag-test": {
                "partitions": {
                    "0": {"consumer_lag_stored": 7, "consumer_lag": 9},
                    "1": {"consumer_lag_stored": -1, "consumer_lag": -1},  # not known yet: not reported
                    "-1": {"consumer_lag_stored": 0},  # librdkafka's internal unassigned partition
                }
            }
        }
    }
    consumer_metrics.record_stats(json.dumps(stats))
    assert value("pipeline_consumer_lag_messages", topic="images-lag-test", partition="0") == 7
    assert value("pipeline_consumer_lag_messages", topic="images-lag-test", partition="1") is None
    assert value("pipeline_consumer_lag_messages", topic="images-lag-test", partition="-1") is None
    consumer_metrics.record_stats("not json")  # ignored, never raised into librdkafka's poll


def test_scheduler_records_the_last_successful_run_and_counts_every_outcome():
    started = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    before = value("pipeline_batch_runs_total", kind="full", outcome="failed") or 0
    scheduler_metrics.observe("full", "success", started, started + timedelta(seconds=42))
    scheduler_metrics.observe("full", "failed", started + timedelta(hours=1), started + timedelta(hours=1, seconds=5))
    assert (
        value("pipeline_batch_last_success_timestamp_seconds", kind="full")
        == (started + timedelta(seconds=42)).timestamp()
    )
    assert value("pipeline_batch_last_success_duration_seconds", kind="full") == 42
    assert value("pipeline_batch_runs_total", kind="full", outcome="failed") == before + 1


def test_scheduler_seeds_the_last_success_from_a_run_record():
    scheduler_metrics.seed(
        {"kind": "incremental", "started_at": "2026-12-01T10:00:00Z", "finished_at": "2026-12-01T10:01:30Z"}
    )
    assert value("pipeline_batch_last_success_duration_seconds", kind="incremental") == 90
    scheduler_metrics.seed(None)  # no run yet: nothing to report, nothing raised
