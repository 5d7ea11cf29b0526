"""The Docker Compose files (not run here: no Docker engine) parse and keep their promises."""
from __future__ import annotations

import re

import pytest
import yaml

from local_services.elasticsearch import ES_VERSION
from local_services.kafka import KAFKA_VERSION
from local_services.s3 import SEAWEEDFS_VERSION
from pipeline_common.environment import PROJECT_ROOT

DEV = PROJECT_ROOT / "docker-compose.dev.yml"
PROD = PROJECT_ROOT / "cloud-services" / "docker-compose.yml"
MIDDLEWARES = PROJECT_ROOT / "cloud-services" / "traefik" / "dynamic" / "middlewares.yml"
SECRET_NAMES = re.compile(r"PASSWORD|SECRET|ACCESS_KEY", re.I)


def load(path):
    return yaml.safe_load(path.read_text())


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    return env if isinstance(env, dict) else dict(item.split("=", 1) for item in env)


def test_dev_stack_publishes_the_local_ports_on_loopback_only():
    services = load(DEV)["services"]
    published = {name: service.get("ports", []) for name, service in services.items()}
    assert published == {
        "kafka": ["127.0.0.1:9092:9092"],
        "elasticsearch": ["127.0.0.1:9200:9200"],
        "s3": ["127.0.0.1:8333:8333"],
    }


def test_dev_stack_runs_the_versions_local_services_runs():
    images = {name: s["image"] for name, s in load(DEV)["services"].items()}
    assert images["kafka"] == f"apache/kafka:{KAFKA_VERSION}"
    assert images["elasticsearch"].endswith(f"elasticsearch:{ES_VERSION}")
    assert images["s3"].endswith(f"seaweedfs:{SEAWEEDFS_VERSION}")


@pytest.mark.parametrize("path", [DEV, PROD], ids=["dev", "prod"])
def test_no_secret_is_written_in_the_compose_files(path):
    for name, service in load(path)["services"].items():
        for key, value in environment(service).items():
            if SECRET_NAMES.search(key):
                assert str(value).startswith("${"), f"{name}.{key} holds a literal value"
        for key, value in environment(service).items():
            for password in re.findall(r'password="([^"]*)"', str(value)):
                assert password.startswith("${"), f"{name}.{key} holds a literal password"


def test_dev_kafka_has_only_sasl_listeners():
    env = environment(load(DEV)["services"]["kafka"])
    protocols = {p.split(":")[1] for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")}
    assert protocols == {"SASL_PLAINTEXT"}


def test_prod_exposes_only_traefik():
    services = load(PROD)["services"]
    assert [name for name, s in services.items() if s.get("ports")] == ["traefik"]


def test_prod_web_routes_use_tls_and_basic_auth():
    services = load(PROD)["services"]
    middlewares = load(MIDDLEWARES)["http"]["middlewares"]
    for name, router in (("elasticsearch", "elastic"), ("namenode", "hadoop")):
        labels = dict(label.split("=", 1) for label in services[name]["labels"])
        assert labels[f"traefik.http.routers.{router}.entrypoints"] == "websecure"
        assert labels[f"traefik.http.routers.{router}.tls.certresolver"] == "letsencrypt"
        used = labels[f"traefik.http.routers.{router}.middlewares"].split(",")
        auth = [m.removesuffix("@file") for m in used if m.endswith("-auth@file")]
        assert len(auth) == 1 and "basicAuth" in middlewares[auth[0]]


def test_prod_kafka_is_reached_through_tls_with_sasl():
    kafka = load(PROD)["services"]["kafka"]
    labels = dict(label.split("=", 1) for label in kafka["labels"])
    assert labels["traefik.tcp.routers.kafka.tls"] == "true"
    env = environment(kafka)
    assert "EXTERNAL:SASL_PLAINTEXT" in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    assert "PLAINTEXT" not in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].replace("SASL_PLAINTEXT", "")
