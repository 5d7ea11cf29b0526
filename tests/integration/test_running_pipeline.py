"""`make demo` kept running, as a user runs it: the Procfile's processes under honcho
(producer watching new_pics/, consumer, live indexer, archiver, scheduler, dashboard) on the real
services with this test's own names. A photo dropped into new_pics/<camera>/ becomes
visible through the API; a real Prometheus server scrapes every process's /metrics;
Ctrl-C leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import cv2
import pytest

from local_services.paths import Paths
from local_services.provision import create_stage_topics, kafka_names
from pipeline_common.environment import child_environment
from scripts.demo import start_watching

pytestmark = [pytest.mark.slow, pytest.mark.process]

PROMETHEUS = Paths.from_env().cache_dir / "prometheus" / "usr" / "bin" / "prometheus"
# a dog, a bicycle and a truck; written again without its EXIF data (a 2014 capture time,
# outside the live window), so its capture time is when it lands
DROPPED_PHOTO = Path("/usr/share/darknet/data/dog.jpg")
MARKER = "PIPELINE_TEST_DEMO_MARKER"
METRICS = {
    "consumer": "CONSUMER_METRICS_PORT",
    "live": "LIVE_METRICS_PORT",
    "scheduler": "SCHEDULER_METRICS_PORT",
    "dashboard": "FRONTEND_METRICS_PORT",
    "archiver": "ARCHIVER_METRICS_PORT",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get_json(url: str, timeout: float = 10.0):
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return json.load(answer)


def poll(what: str, check, timeout_s: float, every_s: float = 1.0, process: subprocess.Popen | None = None):
    """Calls check() until it returns something truthy; fails after timeout_s (a generous
    upper bound so a broken pipeline ends the test, not a speed requirement)."""
    deadline = time.monotonic() + timeout_s
    last_error = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            pytest.fail(f"the demo exited with {process.returncode} while waiting for {what}")
        try:
            result = check()
            if result:
                return result
        except OSError as error:  # not listening yet
            last_error = error
        time.sleep(every_s)
    pytest.fail(f"gave up waiting for {what} after {timeout_s:.0f} s (last error: {last_error})")


def processes_with(marker: str) -> list[str]:
    """Every process whose environment carries the marker: all descendants of the demo
    inherit it, whatever process group or session they moved to."""
    found = []
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes():
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{entry.name}: {command}")
        except OSError:
            continue  # gone, or a zombie waiting for its parent
    return found


@pytest.fixture(scope="module")
def demo(pipeline_env, s3, es, es_settings, kafka_admin, grant_kafka, tmp_path_factory):
    suffix = uuid.uuid4().hex[:8]
    work = tmp_path_factory.mktemp("running")
    ports = {name: free_port() for name in ("web", *METRICS)}  # the dashboard's own, then /metrics
    marker = f"{MARKER}={suffix}"
    env = {
        **child_environment(),
        MARKER: suffix,
        "S3_BUCKET": f"running-test-{suffix}",
        "KAFKA_IMAGES_TOPIC": f"images-run-{suffix}",
        "KAFKA_DEAD_LETTER_TOPIC": f"images-dead-run-{suffix}",
        "KAFKA_CONSUMER_GROUP": f"detector-run-{suffix}",
        "KAFKA_DETECTIONS_TOPIC": f"detections-run-{suffix}",
        "KAFKA_DETECTIONS_DEAD_LETTER_TOPIC": f"detections-dead-run-{suffix}",
        "LIVE_CONSUMER_GROUP": f"live-run-{suffix}",
        "ARCHIVER_CONSUMER_GROUP": f"archiver-run-{suffix}",
        "ARCHIVER_FLUSH_S": "2",  # the dropped photo's event reaches the archive within seconds
        # in the families of the configured indices, which each stage's own account may use
        "ES_INDEX": f"{es_settings.index}-run-{suffix}",
        "ES_LIVE_INDEX_PREFIX": f"{es_settings.live_index_prefix}run-{suffix}-",
        "ES_RUNS_INDEX": f"{es_settings.runs_index}-run-{suffix}",
        "SCHEDULER_LOCK_INDEX": f"pipeline-batch-locks-run-{suffix}",
        "PRODUCER_FRAMES_DIR": str(work / "frames"),
        **{variable: str(ports[name]) for name, variable in METRICS.items()},
    }
    # each stage's own Kafka account gets its rights on these names, and the topics `make up`
    # makes for the configured ones exist (the producer creates its own)
    grant_kafka(**kafka_names(env))
    create_stage_topics(kafka_admin, env)
    s3.create_bucket(Bucket=env["S3_BUCKET"])
    new_pics = work / "new_pics"
    log_path = work / "demo.log"
    with open(log_path, "wb") as log:
        process = start_watching(new_pics, ports["web"], env, log)
    base = f"http://127.0.0.1:{ports['web']}"
    state = {
        "process": process,
        "base": base,
        "ports": ports,
        "new_pics": new_pics,
        "marker": marker,
        "log": log_path,
        "stopped": False,
    }
    try:
        poll("the dashboard", lambda: get_json(f"{base}/api/health", 5), 240, process=process)
        yield state
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        for line in processes_with(marker):  # a failed test must not leave them running either
            os.kill(int(line.split(":")[0]), signal.SIGKILL)
        from es_live.index import live_index_names

        for name in live_index_names(es, env["ES_LIVE_INDEX_PREFIX"]):
            es.indices.delete(index=name, ignore_unavailable=True)
        for index in (env["ES_INDEX"], env["ES_RUNS_INDEX"], env["SCHEDULER_LOCK_INDEX"]):
            es.indices.delete(index=index, ignore_unavailable=True)
        print(log_path.read_text(errors="replace")[-4000:])


def source_total(base: str, source: str) -> int:
    query = urllib.parse.urlencode({"source": source, "from": "now-1d", "to": "now"})
    return get_json(f"{base}/api/totals?{query}")["total"]


@pytest.fixture(scope="module")
def dropped(demo):
    """One photo copied into new_pics/camera-drop/ while everything runs; the API's total
    for that camera once it shows."""
    camera = "camera-drop"
    assert source_total(demo["base"], camera) == 0
    folder = demo["new_pics"] / camera
    folder.mkdir(parents=True)
    pixels = cv2.imread(str(DROPPED_PHOTO))
    part = demo["new_pics"].parent / "dog-landing.jpg"  # outside the watched folder, then renamed: it lands whole
    assert cv2.imwrite(str(part), pixels)
    part.rename(folder / "dog.jpg")
    return camera, poll(
        "the dropped photo's counts in the API",
        lambda: source_total(demo["base"], camera),
        300,
        process=demo["process"],
    )


def test_a_photo_dropped_into_new_pics_becomes_visible_through_the_api(demo, dropped):
    camera, total = dropped
    # darknet's dog.jpg: a dog, a bicycle and a truck (or car); at least two objects counted
    assert total >= 2
    query = urllib.parse.urlencode({"source": camera, "from": "now-1d", "to": "now"})
    labels = {row["label"] for row in get_json(f"{demo['base']}/api/totals?{query}")["totals"]}
    assert "dog" in labels


def prometheus_config(path: Path, ports: dict[str, int]) -> None:
    jobs = [
        f"  - job_name: {name}\n    scrape_interval: 1s\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{ports[name]}']\n"
        for name in METRICS
    ]
    path.write_text("global:\n  scrape_interval: 1s\nscrape_configs:\n" + "".join(jobs))


def prometheus_query(port: int, expression: str) -> list[dict]:
    answer = get_json(f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expression}))
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def test_prometheus_scrapes_every_process(demo, dropped, tmp_path):
    if not PROMETHEUS.is_file():
        pytest.skip(f"no Prometheus binary at {PROMETHEUS}: run scripts/setup.sh")
    # the dropped photo went through: the pipeline metrics have values
    config = tmp_path / "prometheus.yml"
    prometheus_config(config, demo["ports"])
    port = free_port()
    server = subprocess.Popen(
        [
            str(PROMETHEUS),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def all_up():
            results = prometheus_query(port, "up")
            up = {sample["metric"]["job"]: sample["value"][1] for sample in results}
            return up if up == {name: "1" for name in METRICS} else None

        poll("every target up in Prometheus", all_up, 60)
        expectations = {
            "pipeline_consumer_images_processed_total": lambda v: v >= 1,
            "pipeline_consumer_detection_seconds_count": lambda v: v >= 1,
            "pipeline_live_documents_written_total": lambda v: v >= 1,
            "pipeline_archiver_events_archived_total": lambda v: v >= 1,
        }
        for expression, check in expectations.items():
            results = poll(f"{expression} in Prometheus", lambda e=expression: prometheus_query(port, e), 30)
            assert check(float(results[0]["value"][1])), (expression, results)
        # the dashboard's own requests (health checks, the API calls above) were timed
        latency = poll(
            "API request latency in Prometheus",
            lambda: prometheus_query(port, "pipeline_api_request_seconds_count"),
            30,
        )
        assert {sample["metric"]["endpoint"] for sample in latency} >= {"/api/health"}
        lag = poll("consumer lag in Prometheus", lambda: prometheus_query(port, "pipeline_consumer_lag_messages"), 30)
        assert all(float(sample["value"][1]) >= 0 for sample in lag)
        dead = poll(
            "the dead-letter count in Prometheus",
            lambda: prometheus_query(port, "pipeline_consumer_images_dead_lettered_total"),
            30,
        )
        assert float(dead[0]["value"][1]) == 0  # nothing was bad
        # the scheduler's first run (at start: none ran yet) finished, with its time and duration
        finished = poll(
            "the last successful batch run in Prometheus",
            lambda: prometheus_query(port, "pipeline_batch_last_success_timestamp_seconds"),
            600,
        )
        assert {sample["metric"]["kind"] for sample in finished} == {"incremental"}
        assert float(finished[0]["value"][1]) > 0  # the runs index is this test's own: a run of this test
        duration = prometheus_query(port, "pipeline_batch_last_success_duration_seconds")
        assert float(duration[0]["value"][1]) > 0
    finally:
        server.terminate()
        server.wait(30)


def test_ctrl_c_stops_every_process_the_demo_started(demo):
    process = demo["process"]
    running = processes_with(demo["marker"])
    assert len(running) >= 8, f"the demo, honcho and the six Procfile processes; found {running}"
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in its terminal does
    assert process.wait(90) == 0
    deadline = time.monotonic() + 5  # the kernel's reaping of the last exits
    while (left := processes_with(demo["marker"])) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == []
