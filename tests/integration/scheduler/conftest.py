"""Scheduler tests: their own input prefix, output prefix, indices and lock, and a way
to start `python -m scheduler` processes on them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from pipeline_common.environment import PROJECT_ROOT, child_environment
from pipeline_common.s3 import list_keys

PROBE = Path(__file__).with_name("probe.py")


@pytest.fixture
def space(s3, s3_settings, es, es_settings, tmp_path):
    """Names of everything one test writes; three metadata records to count. The indices
    belong to the families of the configured ones, which each stage's own account may use."""
    name = f"it-scheduler-{uuid.uuid4().hex[:10]}"
    prefix = f"{name}/"
    for number in range(1, 4):
        image_id = f"{number:032x}"
        record = {
            "schema_version": 1,
            "image_id": image_id,
            "image_path": f"s3://image-pipeline/images/{image_id}.jpg",
            "source": "gate",
            "captured_at": "2026-11-28T10:05:00Z",
            "processed_at": "2026-11-28T10:06:00Z",
            "model": {"name": "yolov3-tiny", "input_size": 416, "confidence_threshold": 0.25, "nms_threshold": 0.45},
            "width": 640,
            "height": 480,
            "detections": [{"label": "person", "class_id": 0, "confidence": 0.9, "box": [0, 0, 5, 5]}] * number,
        }
        s3.put_object(
            Bucket=s3_settings.bucket, Key=f"{prefix}metadata/{image_id}.json", Body=json.dumps(record).encode()
        )
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    env = {
        "AGGREGATION_RUNNER": "inline",
        "AGGREGATION_SOURCE": "metadata",
        "AGGREGATION_INPUT_PREFIX": f"{prefix}metadata/",
        "AGGREGATION_OUTPUT_PREFIX": f"{prefix}out/",
        "ES_INDEX": f"{es_settings.index}-{name}",
        "ES_RUNS_INDEX": f"{es_settings.runs_index}-{name}",
        "SCHEDULER_LOCK_INDEX": f"pipeline-batch-locks-{name}",
        "SCHEDULER_FULL_CRON": "",
        "SCHEDULER_LEASE_S": "20",
        "SCHEDULER_METRICS_PORT": "0",  # several schedulers at once; their metrics are tested elsewhere
        "SCHEDULER_AGGREGATION_COMMAND": f"{sys.executable} {PROBE} {probe_dir} -- {sys.executable} -m hadoop",
    }
    yield type("Space", (), {"name": name, "prefix": prefix, "env": env, "probe_dir": probe_dir})
    # the indexer's own lock index (`<ES_INDEX>-lock`, es_indexer/run.py) too
    for index in (env["ES_INDEX"], f"{env['ES_INDEX']}-lock", env["ES_RUNS_INDEX"], env["SCHEDULER_LOCK_INDEX"]):
        es.indices.delete(index=index, ignore_unavailable=True)
    keys = list(list_keys(s3, s3_settings.bucket, prefix))
    for start in range(0, len(keys), 1000):
        s3.delete_objects(
            Bucket=s3_settings.bucket, Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]]}
        )


def scheduler_once(env: dict, *arguments: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python -m scheduler once [arguments]`, as an operator or a deployment script runs it."""
    return subprocess.run(
        [sys.executable, "-m", "scheduler", "once", *arguments],
        cwd=PROJECT_ROOT,
        env=child_environment(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Scheduler:
    """A `python -m scheduler run` process; stopped with SIGTERM as a service manager would."""

    def __init__(self, env: dict, log_path: Path):
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scheduler", "run"],
            cwd=PROJECT_ROOT,
            env=child_environment(**env),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def stop(self, timeout: float = 120) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self.log.close()
        return code

    def output(self) -> str:
        return self.log_path.read_text()


@pytest.fixture
def start_scheduler(tmp_path):
    started: list[Scheduler] = []

    def start(env: dict) -> Scheduler:
        scheduler = Scheduler(env, tmp_path / f"scheduler-{len(started)}.log")
        started.append(scheduler)
        return scheduler

    yield start
    for scheduler in started:
        if scheduler.process.poll() is None:
            scheduler.process.kill()
            scheduler.process.wait()


def wait_for(check, what: str, timeout: float = 600, every: float = 2.0):
    """Poll `check()` until it returns something truthy (a deadline, not a timing claim)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"gave up waiting for {what} after {timeout} s")
