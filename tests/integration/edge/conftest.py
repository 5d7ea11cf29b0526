"""The edge as a client sees it: Traefik's address from the client settings (ES_URL over
https, KAFKA_SECURITY_PROTOCOL=SASL_SSL), its CA, and the accounts in .env."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import requests

from pipeline_common.environment import PROJECT_ROOT


@dataclass(frozen=True)
class Edge:
    url: str  # https://<host>:<port>, the dashboard at /, Elasticsearch at /elasticsearch
    ca: str
    kafka: str  # host:port of the TLS entry point
    host: str


@pytest.fixture(scope="session")
def edge(pipeline_env) -> Edge:
    es_url = pipeline_env.get("ES_URL", "")
    parts = urlsplit(es_url)
    if parts.scheme != "https" or not parts.path.rstrip("/").endswith("/elasticsearch"):
        pytest.skip(f"ES_URL={es_url!r} does not go through the edge (https://<host>[:port]/elasticsearch)")
    if pipeline_env.get("KAFKA_SECURITY_PROTOCOL", "").upper() != "SASL_SSL":
        pytest.skip("KAFKA_SECURITY_PROTOCOL is not SASL_SSL: Kafka does not go through the edge")
    ca = pipeline_env.get("ES_CA_CERTS", "")
    return Edge(
        url=f"https://{parts.netloc}",
        ca=ca,
        kafka=pipeline_env["KAFKA_BOOTSTRAP_SERVERS"].split(",")[0],
        host=parts.hostname or "",
    )


def account(env, prefix: str) -> tuple[str, str]:
    return env[f"{prefix}_USERNAME"], env[f"{prefix}_PASSWORD"]


@pytest.fixture(scope="session")
def dashboard_backend(pipeline_env, tmp_path_factory):
    """The dashboard served where the edge expects it (FRONTEND_PORT on this machine): the
    real entry point in a subprocess, unless something already answers there."""
    port = int(pipeline_env.get("FRONTEND_PORT", "5001"))
    with socket.socket() as probe:
        busy = probe.connect_ex(("127.0.0.1", port)) == 0
    if busy:
        yield f"http://127.0.0.1:{port}"
        return
    log = tmp_path_factory.mktemp("dashboard") / "dashboard.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "simple_frontend", "--port", str(port)],
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the dashboard did not start: {log.read_text()[-2000:]}")
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
