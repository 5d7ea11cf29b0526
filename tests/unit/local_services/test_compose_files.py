"""The Docker Compose files (not run here: no Docker engine) parse and keep their promises."""

from __future__ import annotations

import json
import os
import re

import pytest
import yaml
from dotenv import dotenv_values

from local_services import hadoop_cluster, provision
from local_services.elasticsearch import ES_VERSION
from local_services.envfile import LOCAL_CA, ensure_env_file
from local_services.hadoop import hadoop_version
from local_services.hadoop_settings import ClusterPorts
from local_services.kafka import KAFKA_VERSION
from local_services.s3 import SEAWEEDFS_VERSION
from local_services.settings import AccessSettings
from local_services.traefik import TRAEFIK_VERSION
from pipeline_common.environment import PROJECT_ROOT

DEV = PROJECT_ROOT / "docker-compose.dev.yml"
PROD = PROJECT_ROOT / "cloud-services" / "docker-compose.yml"
DYNAMIC = PROJECT_ROOT / "cloud-services" / "traefik" / "dynamic"
SECRET_NAMES = re.compile(r"PASSWORD|SECRET|ACCESS_KEY", re.I)


def load(path):
    return yaml.safe_load(path.read_text())


def images_of(path) -> dict[str, str]:
    return {name: s["image"] for name, s in load(path)["services"].items()}


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    return env if isinstance(env, dict) else dict(item.split("=", 1) for item in env)


def test_dev_stack_publishes_the_local_ports_on_loopback_only():
    services = load(DEV)["services"]
    published = {name: service.get("ports", []) for name, service in services.items()}
    assert published == {
        "traefik": [],  # on the host's network, its entry points bound to 127.0.0.1
        "kafka": ["127.0.0.1:9092:9092", "127.0.0.1:9095:9095"],
        "elasticsearch": ["127.0.0.1:9200:9200"],
        "s3": ["127.0.0.1:8333:8333"],
    }
    traefik = services["traefik"]
    assert traefik["network_mode"] == "host"
    addresses = [flag.split("=", 1)[1] for flag in traefik["command"] if ".address=" in flag]
    assert addresses and all(address.startswith("127.0.0.1:") for address in addresses)


def test_dev_stack_runs_the_versions_local_services_runs():
    images = {name: s["image"] for name, s in load(DEV)["services"].items()}
    assert images["traefik"] == images_of(PROD)["traefik"] == f"traefik:{TRAEFIK_VERSION}"
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


def test_dev_s3_has_the_local_stack_s_accounts_with_the_dashboard_s_read_only_one(tmp_path):
    """The SeaweedFS container enforces the identities file that `local-services accounts
    files .local/docker` writes: the local stack's accounts, among them the dashboard's,
    which the dashboard (on the host, FRONTEND_S3_* in .env) reads the gallery's images
    with; it may read images/ and nothing else."""
    s3 = load(DEV)["services"]["s3"]
    config = next(flag.split("=", 1)[1] for flag in s3["command"] if flag.startswith("-s3.config="))
    mounts = dict(reversed(volume.rsplit(":", 2)[:2]) for volume in s3["volumes"])
    assert mounts[config] == "${PIPELINE_LOCAL_DIR:-./.local}/docker/s3/s3.json"
    # a fresh .env as `make up` makes it, and the files of `accounts files <local dir>/docker`
    ensure_env_file(PROJECT_ROOT / ".env.example", tmp_path / ".env", values={LOCAL_CA: str(tmp_path / "ca.pem")})
    env = dotenv_values(tmp_path / ".env")
    access = AccessSettings.from_env(env)
    written = provision.write_files(tmp_path / "docker", access, env["KAFKA_ADMIN_PASSWORD"])
    identities_file = tmp_path / "docker" / "s3" / "s3.json"
    assert identities_file in written
    identities = json.loads(identities_file.read_text())
    assert identities == access.s3_identities()  # what the local stack's SeaweedFS enforces
    by_name = {identity["name"]: identity for identity in identities["identities"]}
    assert by_name["dashboard"] == {
        "name": "dashboard",
        "credentials": [{"accessKey": env["FRONTEND_S3_ACCESS_KEY"], "secretKey": env["FRONTEND_S3_SECRET_KEY"]}],
        "actions": [f"Read:{env['S3_BUCKET']}/images/*"],
    }


def test_prod_secret_files_are_the_servers_alone_and_mounted_read_only(tmp_path):
    """The JAAS file (every Kafka password) and Elasticsearch's file realm, as the one-time
    step `local-services accounts files` writes them: mode 0400, owned by uid 1000 (the user
    apache/kafka and the Elasticsearch image run their server as; only root can give them
    away), and mounted read-only where the servers read them."""
    ensure_env_file(PROJECT_ROOT / ".env.example", tmp_path / ".env", values={LOCAL_CA: str(tmp_path / "ca.pem")})
    env = dotenv_values(tmp_path / ".env")
    access = AccessSettings.from_env(env)
    written = provision.write_files(tmp_path, access, env["KAFKA_ADMIN_PASSWORD"])
    jaas = tmp_path / "kafka-jaas" / "kafka_server_jaas.conf"
    realm = [tmp_path / "es-security" / name for name in ("roles.yml", "users", "users_roles")]
    for path in [jaas, *realm]:
        assert path in written
        assert path.stat().st_mode & 0o777 == 0o400, path
        if os.geteuid() == 0:
            assert path.stat().st_uid == provision.CONTAINER_UID, path
    accounts = re.findall(r'user_([^=]+)="', jaas.read_text())
    assert sorted(accounts) == sorted(["admin", *(account.username for _, account in access.kafka_accounts)])

    services = load(PROD)["services"]
    kafka_mounts = dict(volume.rsplit(":", 2)[:2] for volume in services["kafka"]["volumes"] if volume.endswith(":ro"))
    container_jaas = kafka_mounts["./kafka-jaas/kafka_server_jaas.conf"]
    assert f"-Djava.security.auth.login.config={container_jaas}" in environment(services["kafka"])["KAFKA_OPTS"]
    es_mounts = {volume.split(":")[0] for volume in services["elasticsearch"]["volumes"] if volume.endswith(":ro")}
    assert {f"./{path.relative_to(tmp_path)}" for path in realm} <= es_mounts


def test_dev_kafka_has_only_sasl_listeners():
    env = environment(load(DEV)["services"]["kafka"])
    protocols = {p.split(":")[1] for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")}
    assert protocols == {"SASL_PLAINTEXT"}


def test_prod_exposes_only_traefik():
    services = load(PROD)["services"]
    assert [name for name, s in services.items() if s.get("ports")] == ["traefik"]


def dynamic_config() -> dict:
    """Traefik's shared dynamic files as one mapping, their Go template expressions replaced
    by a placeholder and block markers ({{ if }}, {{ with }}, {{ end }}) dropped, which keeps
    every optional router. Traefik itself renders them in the integration tests."""
    merged: dict = {}
    for path in sorted(DYNAMIC.glob("*.yml")):
        lines = [line for line in path.read_text().splitlines() if not line.strip().startswith("{{")]
        text = re.sub(r"\{\{.*?\}\}", "TEMPLATED", "\n".join(lines))
        for section, content in (yaml.safe_load(text) or {}).items():
            for kind, entries in content.items():
                merged.setdefault(section, {}).setdefault(kind, {}).update(entries)
    return merged


def test_prod_routing_lives_in_the_shared_files_not_in_labels():
    services = load(PROD)["services"]
    assert not any(service.get("labels") for service in services.values())
    assert "--providers.file.directory=/etc/traefik/dynamic" in services["traefik"]["command"]
    assert "./traefik/dynamic:/etc/traefik/dynamic:ro" in services["traefik"]["volumes"]


def test_prod_mounts_no_docker_socket():
    for name, service in load(PROD)["services"].items():
        assert not any("docker.sock" in str(volume) for volume in service.get("volumes", [])), name


def test_prod_traefik_sets_every_variable_the_shared_files_read():
    read = set()
    for path in DYNAMIC.glob("*.yml"):
        read |= set(re.findall(r'env "(EDGE_[A-Z_]+)"', path.read_text()))
    local_only = {"EDGE_TLS_CERT", "EDGE_TLS_KEY"}  # production's certificates come from Let's Encrypt
    assert set(environment(load(PROD)["services"]["traefik"])) == read - local_only


def test_every_web_router_has_tls_and_basic_auth():
    config = dynamic_config()
    middlewares = config["http"]["middlewares"]
    for name, router in config["http"]["routers"].items():
        assert router["tls"]["options"] == "modern", name
        auth = [m for m in router["middlewares"] if "basicAuth" in middlewares[m]]
        assert len(auth) == 1, name
        assert "secure-headers" in router["middlewares"], name
    assert {"dashboard", "elasticsearch", "traefik", "hdfs-ui"} <= set(config["http"]["routers"])


def test_kafka_is_reached_through_tls_with_a_strict_sni_router():
    config = dynamic_config()
    router = config["tcp"]["routers"]["kafka"]
    assert router["rule"].startswith("HostSNI(") and router["tls"]["options"] == "modern"
    modern = config["tls"]["options"]["modern"]
    assert modern == {"minVersion": "VersionTLS12", "sniStrict": True}
    kafka = environment(load(PROD)["services"]["kafka"])
    assert "EDGE://${DOMAIN:?set DOMAIN in .env}:9094" in kafka["KAFKA_ADVERTISED_LISTENERS"]
    assert "9094:9094" in load(PROD)["services"]["traefik"]["ports"]
    assert "EDGE:SASL_PLAINTEXT" in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    assert "PLAINTEXT" not in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].replace("SASL_PLAINTEXT", "")


def test_prod_kafka_allows_nothing_without_an_acl():
    kafka = environment(load(PROD)["services"]["kafka"])
    assert kafka["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert kafka["KAFKA_SUPER_USERS"] == "User:admin"
    assert kafka["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"


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
        "yarn-site": [
            "yarn.nodemanager.aux-services",
            "yarn.nodemanager.aux-services.mapreduce_shuffle.class",
            "yarn.nodemanager.vmem-check-enabled",
            "yarn.acl.enable",
            "yarn.scheduler.minimum-allocation-mb",
        ],
        "mapred-site": [
            "mapreduce.framework.name",
            "mapreduce.jvm.add-opens-as-default",
            "yarn.app.mapreduce.am.resource.mb",
            "mapreduce.map.memory.mb",
            "mapreduce.reduce.memory.mb",
        ],
        "capacity-scheduler": [
            "yarn.scheduler.capacity.root.queues",
            "yarn.scheduler.capacity.maximum-am-resource-percent",
        ],
    }
    for name in ("namenode", "datanode", "resourcemanager", "nodemanager", "aggregation"):
        config = hadoop_config(services[name])
        for file, properties in shared.items():
            for prop in properties:
                assert config[file][prop] == local[file][prop], f"{name}: {file} {prop}"
        # each heap fits its container, as locally
        mapred = config["mapred-site"]
        assert int(mapred["mapreduce.map.java.opts"].removeprefix("-Xmx").removesuffix("m")) < int(
            mapred["mapreduce.map.memory.mb"]
        )
    # only the owner of the containers (the images' `hadoop` user) may submit
    scheduler = hadoop_config(services["resourcemanager"])["capacity-scheduler"]
    assert scheduler["yarn.scheduler.capacity.root.default.acl_submit_applications"] == "hadoop"


def test_prod_hadoop_daemons_have_a_heap_cap_no_smaller_than_the_local_cluster_s():
    services = load(PROD)["services"]
    local = {
        "namenode": "hdfs-namenode",
        "datanode": "hdfs-datanode",
        "resourcemanager": "yarn-resourcemanager",
        "nodemanager": "yarn-nodemanager",
    }
    for name, daemon in local.items():
        heap = environment(services[name])["HADOOP_HEAPSIZE_MAX"]
        assert re.fullmatch(r"\d+m", heap), f"{name}: {heap}"
        assert int(heap[:-1]) >= hadoop_cluster.DAEMON_HEAP_MB[daemon], name
    assert re.fullmatch(r"\d+m", environment(services["aggregation"])["HADOOP_HEAPSIZE_MAX"])


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
    yarn = ("resourcemanager", "nodemanager", "aggregation")
    for name in yarn:
        assert not services[name].get("ports"), name
        assert "proxy" not in services[name]["networks"], name  # Traefik's network
    # no backend of the shared routers is a YARN container
    backends = {k: v for k, v in environment(services["traefik"]).items() if k.endswith("_BACKEND")}
    assert backends and not any(name in value for value in backends.values() for name in yarn), backends


def test_the_hdfs_ui_router_leaves_webhdfs_out():
    """WebHDFS believes any `user.name` without Kerberos: the operators' router to the NameNode
    UI does not match it, so Traefik answers 404 (tests/integration/edge runs the rule)."""
    router = dynamic_config()["http"]["routers"]["hdfs-ui"]
    assert router["rule"] == "Host(`TEMPLATED`) && !PathPrefix(`/webhdfs`)"
    assert router["middlewares"][0] == "ops-auth"


def test_prod_hadoop_runs_the_pinned_release():
    version = hadoop_version()
    images = {s["image"] for s in load(PROD)["services"].values() if s["image"].startswith("apache/hadoop")}
    assert images == {f"apache/hadoop:{version}"}
    dockerfile = (PROJECT_ROOT / "hadoop" / "Dockerfile").read_text()
    assert f"FROM apache/hadoop:{version}\n" in dockerfile
