"""Session fixtures over the real services, for every stage's integration tests.

PIPELINE_SERVICES chooses where they come from:
  local     (default) the processes of `python -m local_services up`, started here when
            they are not ready yet and left running afterwards, so the next run is quick;
  external  endpoints and credentials from the environment / .env; nothing is started;
  docker    docker-compose.dev.yml through testcontainers, when a Docker engine answers;
  isolated  a stack of the session's own, on free ports in a folder of its own, started
            here and stopped and deleted when the session ends (tests.support.isolated_stack):
            the fault tests, which kill services, run only there.

Fixtures are created on first use, so `pytest tests/unit` never starts anything; a unit
test that asks for a service fixture fails with a message instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
import requests
from pydantic import Field

from local_services.hadoop_settings import ClusterPorts
from pipeline_common.clients import elasticsearch_client, s3_client
from pipeline_common.environment import DEFAULT_DOTENV, PROJECT_ROOT, Settings, SettingsError, read_environment
from pipeline_common.settings import (
    ElasticsearchSettings,
    FrontendElasticsearchSettings,
    KafkaAdminSettings,
    KafkaSettings,
    S3Settings,
)
from tests.support.services import Processes

INTEGRATION_DIR = Path(__file__).parent / "integration"
UNIT_DIR = Path(__file__).parent / "unit"
UP_TIMEOUT_S = 600
SERVICE_FIXTURES = {
    "pipeline_env",
    "s3_settings",
    "kafka_settings",
    "es_settings",
    "s3",
    "es",
    "kafka_admin",
    "hadoop_home",
    "hadoop_cluster",
    "grant_kafka",
    "api_es_settings",
}
CLUSTER_UP_TIMEOUT_S = 900


def pytest_collection_modifyitems(config, items):
    """Everything under tests/integration is an integration test, marked or not."""
    for item in items:
        if INTEGRATION_DIR in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


def pytest_runtest_setup(item):
    _SETTING_UP[0] = item
    if UNIT_DIR in Path(item.fspath).parents and SERVICE_FIXTURES & set(item.fixturenames):
        pytest.fail("unit tests need no services: move this test to tests/integration", pytrace=False)


_SETTING_UP: list[pytest.Item | None] = [None]  # the test whose fixtures are being made


@pytest.fixture(scope="session", autouse=True)
def _real_model_only_in_model_tests():
    """A unit test that builds the real detector (`Detector.load`) is marked `model`, so that
    `make test-unit`, which leaves those out, stays quick; in one that is not, it fails."""
    from consumer.detector import Detector

    load = Detector.load.__func__

    def checked(cls, *args, **kwargs):
        item = _SETTING_UP[0]
        if item is not None and UNIT_DIR in Path(item.fspath).parents and item.get_closest_marker("model") is None:
            pytest.fail(f"{item.nodeid} runs the real model: mark it pytest.mark.model", pytrace=False)
        return load(cls, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Detector, "load", classmethod(checked))
        yield


def _local_ready(env) -> bool:
    from local_services import stack
    from local_services.settings import LocalSettings

    try:
        return stack.all_ready(LocalSettings.from_env(env))
    except SettingsError:  # no .env yet: `up` writes it
        return False


def _start_local() -> dict[str, str]:
    env = read_environment()
    if not _local_ready(env):
        up_or_fail([], UP_TIMEOUT_S)
        env = read_environment()  # the first `up` wrote .env
    return env


def up_or_fail(names: list[str], timeout_s: float) -> None:
    """`python -m local_services up <names>` (all of the stack when none are named); the
    session fails with its output when it does."""
    command = ["local_services", "up", *names]
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout_s
    )
    if result.returncode != 0:
        pytest.fail(
            f"`python -m {' '.join(command)}` failed (exit code {result.returncode}):\n{result.stdout}{result.stderr}",
            pytrace=False,
        )


def _docker_engine_reachable() -> str | None:
    """None when usable, else the reason to skip."""
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"no Docker engine answers `docker info`: {probe.stderr.strip()[:200]}"
    return None


def _start_docker(request) -> dict[str, str]:
    reason = _docker_engine_reachable()
    if reason:
        pytest.skip(f"PIPELINE_SERVICES=docker: {reason}")
    from testcontainers.compose import DockerCompose

    from local_services import provision, stack
    from local_services.envfile import LOCAL_CA, ensure_env_file
    from local_services.errors import ServiceError
    from local_services.paths import Paths
    from local_services.readiness import wait_until
    from local_services.settings import LocalSettings
    from local_services.tls import ensure_server_cert

    paths = Paths.from_env(read_environment())
    ensure_env_file(PROJECT_ROOT / ".env.example", DEFAULT_DOTENV, values={LOCAL_CA: str(paths.ca_cert)})
    env = read_environment()
    settings = LocalSettings.from_env(env)
    # what the containers mount (docker-compose.dev.yml): the edge's certificate, the
    # users files, Elasticsearch's roles and users, Kafka's accounts
    ensure_server_cert(paths.tls, [settings.edge.host], label=str(paths.local_dir))
    provision.write_files(paths.local_dir / "docker", settings.access, settings.kafka_admin_password)
    compose = DockerCompose(
        PROJECT_ROOT, compose_file_name="docker-compose.dev.yml", env_file=str(DEFAULT_DOTENV), pull=True
    )
    compose.start()
    request.addfinalizer(compose.stop)
    try:
        for service in stack.services(settings):
            wait_until(
                service.is_ready, what=f"{service.name} (docker)", timeout=300, log_file=settings.paths.logs / "none"
            )
        for name in ("s3", "kafka"):  # the bucket; the topics and each stage's ACLs
            stack.services(settings, [name])[0].after_ready()
    except ServiceError as error:
        stdout, stderr = compose.get_logs()
        pytest.fail(f"{error}\ndocker compose logs:\n{(stdout + stderr)[-4000:]}", pytrace=False)
    return env


def _start_isolated(request) -> dict[str, str]:
    from local_services.envfile import LOCAL_CA, ensure_env_file
    from local_services.paths import Paths
    from tests.support.isolated_stack import IsolatedStack

    # the secrets every stack of this checkout is provisioned with (the first `up` writes them)
    ca = Paths.from_env(read_environment()).ca_cert
    ensure_env_file(PROJECT_ROOT / ".env.example", DEFAULT_DOTENV, values={LOCAL_CA: str(ca)})
    stack = IsolatedStack(read_environment())
    request.addfinalizer(lambda: _stop_isolated(stack))
    # A session ended by SIGTERM (a CI timeout, `timeout`) stops its stack too: pytest runs
    # the finalizers on KeyboardInterrupt, not when the interpreter is terminated.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        stack.start()
    except AssertionError as error:
        pytest.fail(f"the session's own stack did not start: {error}", pytrace=False)
    return stack.env


def _stop_isolated(stack) -> None:
    result = stack.stop()
    if result is not None and result.returncode != 0:
        pytest.fail(
            f"the session's own stack did not stop; its state is in {stack.local_dir}:\n"
            f"{result.stdout}{result.stderr[-4000:]}",
            pytrace=False,
        )


class HarnessSettings(Settings):
    """The test harness's own setting (not the pipeline's, so it lives here)."""

    mode: Literal["local", "external", "docker", "isolated"] = Field(
        "local",
        alias="PIPELINE_SERVICES",
        description="Where the integration tests get their services: local (start them with local_services, "
        "the default), external (the endpoints configured, nothing started), docker (docker-compose.dev.yml) "
        "or isolated (a stack of the session's own, on free ports, deleted afterwards; the fault tests).",
    )


@pytest.fixture(scope="session")
def pipeline_env(request) -> dict[str, str]:
    """The environment (.env overlaid by os.environ) once the services answer."""
    try:
        mode = HarnessSettings.from_env().mode
    except SettingsError as error:
        pytest.fail(str(error), pytrace=False)
    if mode == "local":
        return _start_local()
    if mode == "docker":
        return _start_docker(request)
    if mode == "isolated":
        return _start_isolated(request)
    return read_environment()


@pytest.fixture(scope="session")
def s3_settings(pipeline_env) -> S3Settings:
    return S3Settings.from_env(pipeline_env)


@pytest.fixture(scope="session")
def kafka_settings(pipeline_env) -> KafkaSettings:
    """The broker's own account (`admin`, its only super user), for the tests' set-up:
    creating topics, announcing test input, reading results and lags. Stage code under
    test runs with its stage's own account (see `grant_kafka`)."""
    return KafkaAdminSettings.from_env(pipeline_env)


@pytest.fixture(scope="session")
def es_settings(pipeline_env) -> ElasticsearchSettings:
    return ElasticsearchSettings.from_env(pipeline_env)


@pytest.fixture(scope="session")
def api_es_settings(pipeline_env) -> ElasticsearchSettings:
    """The dashboard API's own, read-only Elasticsearch account (FRONTEND_ES_*), which an app
    under test runs with; fixtures write test data as the administrator (`es`)."""
    return FrontendElasticsearchSettings.from_env(pipeline_env)


@pytest.fixture(scope="session")
def s3(s3_settings):
    """boto3 S3 client; the bucket S3_BUCKET exists."""
    return s3_client(s3_settings)


@pytest.fixture(scope="session")
def es(es_settings):
    client = elasticsearch_client(es_settings)
    yield client
    client.close()


@pytest.fixture(scope="session")
def kafka_admin(kafka_settings):
    from confluent_kafka.admin import AdminClient

    return AdminClient(kafka_settings.client_config())


@pytest.fixture(scope="session")
def grant_kafka(pipeline_env, kafka_admin):
    """`grant(images_topic=..., consumer_group=..., ...)`: gives every stage's own Kafka
    account the rights it has on the configured topics and groups (the ACLs `make up`
    creates, local_services/accounts.py) on a test's own names instead; taken back when
    the session ends. Names not given keep their configured values."""
    from local_services.provision import grant_on, revoke
    from local_services.settings import AccessSettings

    access = AccessSettings.from_env(pipeline_env)
    granted = []
    yield lambda **names: granted.extend(grant_on(kafka_admin, access, **names))
    revoke(kafka_admin, granted)


@pytest.fixture(scope="session")
def hadoop_home(pipeline_env) -> Path:
    """A local-mode Hadoop install (bin/hadoop) configured for the S3 server."""
    from local_services.paths import Paths

    paths = Paths.from_env(pipeline_env)
    home = paths.local_dir / "hadoop"
    if not (home / "bin" / "hadoop").is_file():
        # `up` installs it in local mode; in the other modes nothing has yet.
        from local_services.hadoop import ensure_hadoop

        home = ensure_hadoop(pipeline_env, paths.cache_dir, home)
    return home


@dataclass(frozen=True)
class HadoopCluster:
    home: Path  # the cluster clients' HADOOP_HOME (bin/hadoop submits to YARN)
    ports: ClusterPorts

    @property
    def resourcemanager_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.resourcemanager_http}"

    @property
    def namenode_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.namenode_http}"

    def applications(self, name: str) -> list[dict]:
        """The ResourceManager's REST API: the applications called `name`, oldest first."""
        answer = requests.get(f"{self.resourcemanager_url}/ws/v1/cluster/apps", timeout=10)
        answer.raise_for_status()
        apps = (answer.json().get("apps") or {}).get("app") or []
        return sorted((app for app in apps if app["name"] == name), key=lambda app: app["id"])


@pytest.fixture(scope="session")
def hadoop_cluster(pipeline_env) -> HadoopCluster:
    """The local single-node Hadoop cluster (HDFS + YARN, local_services/hadoop_cluster.py),
    whatever PIPELINE_SERVICES says: started here when not ready (about a minute; `make up`
    starts it only with PIPELINE_HADOOP_CLUSTER=true) and left running, like the others."""
    from local_services import hadoop_cluster, stack
    from local_services.settings import LocalSettings

    settings = LocalSettings.from_env(pipeline_env)
    daemons = stack.services(settings, [stack.CLUSTER])
    if not all(daemon.status().ready for daemon in daemons):
        up_or_fail([stack.CLUSTER], CLUSTER_UP_TIMEOUT_S)
    return HadoopCluster(home=hadoop_cluster.cluster_home(settings), ports=settings.hadoop_cluster.ports)


@pytest.fixture
def processes():
    """`processes.start(command, **popen_arguments)`: a subprocess that is killed after the
    test if it still runs."""
    started = Processes()
    yield started
    started.kill_all()


@pytest.fixture
def unique_name():
    """`unique_name("topic")` -> "topic-3f9a0c1b2d": a fresh lower-case name per call, valid
    as a Kafka topic, consumer group, ES index or S3 key prefix, so concurrent test runs
    never share state."""

    def make(prefix: str = "test") -> str:
        return f"{prefix.lower()}-{uuid.uuid4().hex[:10]}"

    return make


@pytest.fixture
def own_service(pipeline_env):
    """`own_service("kafka")`: a service of the session's own stack, for fault tests
    that kill it (tests.support.services.OwnService); started again after the test if it is
    still down. Only on the session's own stack (PIPELINE_SERVICES=isolated, as `make test`
    runs them): never on services others use, nor on this checkout's everyday stack."""
    from local_services import stack
    from local_services.settings import LocalSettings
    from tests.support.services import OwnService

    if HarnessSettings.from_env().mode != "isolated":
        pytest.skip("fault tests kill services: only on the session's own stack (PIPELINE_SERVICES=isolated)")
    settings = LocalSettings.from_env(pipeline_env)
    taken: list[OwnService] = []

    def get(name: str) -> OwnService:
        [service] = stack.services(settings, [name])
        taken.append(OwnService(service, {**os.environ, **pipeline_env}))
        return taken[-1]

    yield get
    for service in taken:
        if service.service.pid() is None:
            service.start()
