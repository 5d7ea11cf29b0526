"""The Docker Compose files (not run here: no Docker engine) parse and keep their promises."""
from __future__ import annotations

import re

import pytest
import yaml

from local_services import hadoop_cluster
from local_services.elasticsearch import ES_VERSION
from local_services.hadoop import hadoop_version
from local_services.hadoop_settings import ClusterPorts
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


def hadoop_config(service: dict) -> dict[str, dict[str, str]]:
    """The apache/hadoop images' <FILE>_<property> variables, as {file: {property: value}}."""
    config: dict[str, dict[str, str]] = {}
    for key, value in environment(service).items():
        if ".XML_" in key:
            name, prop = key.split(".XML_", 1)
            config.setdefault(name.lower(), {})[prop] = str(value)
    return config


def test_prod_yarn_runs_with_the_local_cluster_s_settings(tmp_path):
    layout = hadoop_cluster.ClusterLayout(home=tmp_path, data=tmp_path, logs=tmp_path)
    local = hadoop_cluster.cluster_site_files({}, ClusterPorts(), layout, [tmp_path])
    services = load(PROD)["services"]
    shared = {
        "core-site": ["fs.permissions.umask-mode"],
        "yarn-site": ["yarn.nodemanager.aux-services", "yarn.nodemanager.aux-services.mapreduce_shuffle.class",
                      "yarn.nodemanager.vmem-check-enabled", "yarn.acl.enable", "yarn.scheduler.minimum-allocation-mb"],
        "mapred-site": ["mapreduce.framework.name", "mapreduce.jvm.add-opens-as-default",
                        "yarn.app.mapreduce.am.resource.mb", "mapreduce.map.memory.mb", "mapreduce.reduce.memory.mb"],
        "capacity-scheduler": ["yarn.scheduler.capacity.root.queues",
                               "yarn.scheduler.capacity.maximum-am-resource-percent"],
    }
    for name in ("namenode", "datanode", "resourcemanager", "nodemanager", "aggregation"):
        config = hadoop_config(services[name])
        for file, properties in shared.items():
            for prop in properties:
                assert config[file][prop] == local[file][prop], f"{name}: {file} {prop}"
        # each heap fits its container, as locally
        mapred = config["mapred-site"]
        assert int(mapred["mapreduce.map.java.opts"].removeprefix("-Xmx").removesuffix("m")) < int(
            mapred["mapreduce.map.memory.mb"])
    # only the owner of the containers (the images' `hadoop` user) may submit
    scheduler = hadoop_config(services["resourcemanager"])["capacity-scheduler"]
    assert scheduler["yarn.scheduler.capacity.root.default.acl_submit_applications"] == "hadoop"


def test_prod_aggregation_client_points_at_the_cluster():
    services = load(PROD)["services"]
    client = hadoop_config(services["aggregation"])
    assert client["core-site"]["fs.defaultFS"] == "hdfs://namenode:8020"
    assert client["yarn-site"]["yarn.resourcemanager.hostname"] == "resourcemanager"
    assert services["resourcemanager"]["hostname"] == "resourcemanager"
    assert services["namenode"]["hostname"] == "namenode"
    # the tasks run in the NodeManager, whose image has the stage's Python; so does the client's
    assert services["aggregation"]["image"] == services["nodemanager"]["image"]
    assert services["nodemanager"]["build"]["dockerfile"] == "hadoop/Dockerfile"
    # the S3 secret reaches only the containers that read or write the bucket
    for name in ("namenode", "datanode", "resourcemanager"):
        assert "CORE-SITE.XML_fs.s3a.secret.key" not in environment(services[name])
    assert environment(services["nodemanager"])["CORE-SITE.XML_fs.s3a.secret.key"].startswith("${")


def test_prod_yarn_is_neither_published_nor_routed():
    services = load(PROD)["services"]
    for name in ("resourcemanager", "nodemanager", "aggregation"):
        assert not services[name].get("ports") and not services[name].get("labels"), name
        assert "proxy" not in services[name]["networks"], name


def test_prod_hdfs_ui_route_leaves_webhdfs_out():
    labels = dict(label.split("=", 1) for label in load(PROD)["services"]["namenode"]["labels"])
    assert labels["traefik.http.routers.hadoop.rule"] == "Host(`hadoop.${DOMAIN}`) && !PathPrefix(`/webhdfs`)"


def test_prod_hadoop_runs_the_pinned_release():
    version = hadoop_version()
    images = {s["image"] for s in load(PROD)["services"].values() if s["image"].startswith("apache/hadoop")}
    assert images == {f"apache/hadoop:{version}"}
    dockerfile = (PROJECT_ROOT / "hadoop" / "Dockerfile").read_text()
    assert f"FROM apache/hadoop:{version}\n" in dockerfile
