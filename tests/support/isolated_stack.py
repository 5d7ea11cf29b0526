"""A set of local services of a test session's own (PIPELINE_SERVICES=isolated): the fault
tests kill and restart services, so they get a stack nobody else uses, on ports picked
free for the session and with a state folder of its own (data, logs, pid files, its own
CA), stopped and deleted when the session ends, whatever its outcome."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from local_services.paths import Paths
from pipeline_common.environment import PROJECT_ROOT
from tests.support.services import local_services_up

PREFIX = "isolated-"  # + the session's pid: the folder of its stack, beside the checkout's own state
SERVICES = ("s3", "kafka", "elasticsearch", "traefik")  # no Hadoop: no fault test needs it
# SeaweedFS listens on each of its ports + 10000 too (gRPC), so the ports are picked
# where that stays valid, and below the kernel's ephemeral range (32768-60999).
LOW, HIGH, GRPC_OFFSET = 20000, 32000, 10000
PORT_VARIABLES = (
    "PIPELINE_S3_MASTER_PORT",
    "PIPELINE_S3_VOLUME_PORT",
    "PIPELINE_S3_FILER_PORT",
    "PIPELINE_S3_ADMIN_PORT",
    "PIPELINE_KAFKA_PORT",
    "PIPELINE_KAFKA_EDGE_LISTENER_PORT",
    "PIPELINE_KAFKA_CONTROLLER_PORT",
    "PIPELINE_ES_PORT",
    "PIPELINE_ES_TRANSPORT_PORT",
    "PIPELINE_EDGE_HDFS_PORT",
)


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_ports(count: int) -> list[int]:
    """`count` distinct ports nothing listens on, nor on each port + 10000."""
    chosen: list[int] = []
    while len(chosen) < count:
        port = random.randrange(LOW, HIGH)
        taken = {*chosen, *(p + GRPC_OFFSET for p in chosen)}
        if port not in taken and port + GRPC_OFFSET not in taken and _free(port) and _free(port + GRPC_OFFSET):
            chosen.append(port)
    return chosen


def isolated_env(env: dict[str, str], local_dir: Path) -> dict[str, str]:
    """`env` (the checkout's settings and secrets) pointed at a stack in `local_dir` on
    ports of its own: the clients' addresses (S3, and Kafka and Elasticsearch through its
    own edge) and every port the services listen on."""
    s3, edge_https, edge_kafka, *others = free_ports(3 + len(PORT_VARIABLES))
    ca = str(local_dir / "tls" / "ca.pem")
    return {
        **env,
        "PIPELINE_LOCAL_DIR": str(local_dir),
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{s3}",
        "KAFKA_BOOTSTRAP_SERVERS": f"localhost:{edge_kafka}",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SSL_CA_LOCATION": ca,
        "ES_URL": f"https://localhost:{edge_https}/elasticsearch",
        "ES_CA_CERTS": ca,
        "PIPELINE_EDGE_HTTPS_PORT": str(edge_https),
        "PIPELINE_EDGE_KAFKA_PORT": str(edge_kafka),
        **dict(zip(PORT_VARIABLES, map(str, others), strict=True)),
    }


class IsolatedStack:
    """`start()` the services in a fresh folder on fresh ports; `stop()` them and delete the
    folder (safe to call twice, and after a failed start)."""

    def __init__(self, env: dict[str, str]):
        self.local_dir = Paths.from_env(env).local_dir / f"{PREFIX}{os.getpid()}"
        self.env = isolated_env(env, self.local_dir)

    def start(self, deadline_s: float = 900) -> None:
        """Raises AssertionError with `up`'s output when the stack does not come up."""
        from local_services import stack
        from local_services.settings import LocalSettings

        reap_abandoned(self.env, self.local_dir.parent)
        shutil.rmtree(self.local_dir, ignore_errors=True)
        services = stack.services(LocalSettings.from_env(self.env), SERVICES)
        local_services_up(self.env, list(SERVICES), lambda: any(s.pid() for s in services), deadline_s)

    def stop(self) -> subprocess.CompletedProcess | None:
        return stop_stack(self.env, self.local_dir)


def stop_stack(env: dict[str, str], local_dir: Path) -> subprocess.CompletedProcess | None:
    """Stop the services of the stack in `local_dir` (by their pid files) and delete it."""
    if not local_dir.exists():
        return None
    result = subprocess.run(
        [sys.executable, "-m", "local_services", "down"],
        cwd=PROJECT_ROOT,
        env={**env, "PIPELINE_LOCAL_DIR": str(local_dir)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode == 0:
        shutil.rmtree(local_dir, ignore_errors=True)
    return result


def reap_abandoned(env: dict[str, str], parent: Path) -> None:
    """Stop and delete the stacks of sessions that were killed before they could (SIGKILL)."""
    for folder in parent.glob(f"{PREFIX}*"):
        pid = folder.name.removeprefix(PREFIX)
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            stop_stack(env, folder)
