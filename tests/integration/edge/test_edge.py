"""The edge, for real: Traefik in front of Elasticsearch, the dashboard, its own API and
Kafka, with TLS from the generated CA, basic auth, and each stage's least rights."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import uuid
from functools import partial
from urllib.parse import urlsplit

import pytest
import requests
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from local_services.accounts import ADMIN_USER, ROLE_OF_STAGE
from pipeline_common.clients import elasticsearch_client
from pipeline_common.settings import ElasticsearchSettings, KafkaSettings
from tests.support.services import kafka_round_trip

from .conftest import account

WRONG = "not-the-password"


def status(url: str, ca: str, auth=None, method: str = "GET", **kwargs) -> int:
    return requests.request(method, url, auth=auth, verify=ca, timeout=30, **kwargs).status_code


# --- basic auth ------------------------------------------------------------------------


@pytest.mark.parametrize("who, expected", [("nobody", 401), ("wrong password", 401), ("elastic", 200)])
def test_elasticsearch_at_the_edge_needs_valid_credentials(edge, pipeline_env, who, expected):
    auth = {"nobody": None, "wrong password": ("elastic", WRONG), "elastic": ("elastic", pipeline_env["ES_PASSWORD"])}[
        who
    ]
    assert status(f"{edge.url}/elasticsearch/_cluster/health", edge.ca, auth) == expected


@pytest.mark.parametrize("who, expected", [("nobody", 401), ("wrong password", 401), ("viewer", 200)])
def test_the_dashboard_at_the_edge_needs_valid_credentials(edge, pipeline_env, dashboard_backend, who, expected):
    user, password = account(pipeline_env, "EDGE_DASHBOARD")
    auth = {"nobody": None, "wrong password": (user, WRONG), "viewer": (user, password)}[who]
    page = requests.get(f"{edge.url}/", auth=auth, verify=edge.ca, timeout=30)
    assert page.status_code == expected
    if expected == 200:
        assert "<canvas" in page.text  # the dashboard itself, not an error page
        api = requests.get(f"{edge.url}/api/health", auth=auth, verify=edge.ca, timeout=30)
        assert api.headers["Content-Type"].startswith("application/json")
        assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        assert page.headers["X-Frame-Options"] == "DENY"
    else:
        assert page.headers["WWW-Authenticate"] == 'Basic realm="dashboard"'


def test_traefiks_api_is_for_operators_only(edge, pipeline_env):
    routers = f"{edge.url}/traefik/api/http/routers"
    assert status(routers, edge.ca) == 401
    assert status(routers, edge.ca, account(pipeline_env, "EDGE_DASHBOARD")) == 401  # viewers are not operators
    answer = requests.get(routers, auth=account(pipeline_env, "EDGE_OPS"), verify=edge.ca, timeout=30)
    assert answer.status_code == 200
    assert {"dashboard@file", "elasticsearch@file", "traefik@file"} <= {r["name"] for r in answer.json()}


def raw_status(base: str, path: str, ca: str, auth: tuple[str, str]) -> int:
    """GET with the path sent exactly as written (requests' urllib3 would resolve "..")."""
    parts = urlsplit(base)
    connection = http.client.HTTPSConnection(
        parts.hostname, parts.port, timeout=30, context=ssl.create_default_context(cafile=ca)
    )
    try:
        token = base64.b64encode(":".join(auth).encode()).decode()
        connection.request("GET", path, headers={"Authorization": f"Basic {token}"})
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.fixture
def hdfs_ui(edge, pipeline_env) -> str:
    """https://<host>:<port> of the edge's HDFS entry point, as Traefik's API reports it
    (the operators' account), so the same tests run against any edge."""
    api = f"{edge.url}/traefik/api"
    ops = account(pipeline_env, "EDGE_OPS")
    routers = requests.get(f"{api}/http/routers", auth=ops, verify=edge.ca, timeout=30).json()
    if "hdfs-ui@file" not in {router["name"] for router in routers}:
        pytest.skip("this edge routes no HDFS UI (EDGE_HDFS_UI_BACKEND is empty)")
    entry = requests.get(f"{api}/entrypoints/hdfs", auth=ops, verify=edge.ca, timeout=30).json()
    return f"https://{edge.host}:{entry['address'].rsplit(':', 1)[1]}"


def test_the_hdfs_ui_is_for_operators_only(edge, pipeline_env, hdfs_ui):
    url = f"{hdfs_ui}/dfshealth.html"
    assert status(url, edge.ca) == 401
    assert status(url, edge.ca, account(pipeline_env, "EDGE_DASHBOARD")) == 401
    # the operators pass; the NameNode answers when the Hadoop cluster runs (502 while it does not)
    assert status(url, edge.ca, account(pipeline_env, "EDGE_OPS")) in (200, 502)


@pytest.mark.slow
@pytest.mark.cluster
def test_the_namenode_ui_through_the_edge_shows_the_live_datanode(edge, pipeline_env, hdfs_ui, hadoop_cluster):
    """What an operator sees at the edge's HDFS port: the UI page, and the NameNode bean its
    script renders the DataNodes tab from, listing the cluster's one DataNode as live."""
    ops = account(pipeline_env, "EDGE_OPS")
    page = requests.get(f"{hdfs_ui}/dfshealth.html", auth=ops, verify=edge.ca, timeout=30)
    assert page.status_code == 200
    assert "<title>Namenode information</title>" in page.text
    jmx = f"{hdfs_ui}/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo"
    info = requests.get(jmx, auth=ops, verify=edge.ca, timeout=30).json()
    live = json.loads(info["beans"][0]["LiveNodes"])
    assert live[f"127.0.0.1:{hadoop_cluster.ports.datanode}"]["adminState"] == "In Service"
    assert status(jmx, edge.ca) == 401


@pytest.mark.parametrize(
    "path",
    [
        "/webhdfs/v1/?op=LISTSTATUS",
        "//webhdfs/v1/?op=LISTSTATUS",
        "/jmx/../webhdfs/v1/?op=LISTSTATUS",
        "/%77ebhdfs/v1/?op=LISTSTATUS",
    ],
    ids=["plain", "double slash", "dot-dot", "percent-encoded"],
)
def test_webhdfs_is_not_reachable_through_the_edge(edge, pipeline_env, hdfs_ui, path):
    """WebHDFS believes any `user.name` without Kerberos: no router leads to it, not even
    for the operators, while their NameNode UI page passes the same entry point."""
    ops = account(pipeline_env, "EDGE_OPS")
    assert raw_status(hdfs_ui, path, edge.ca, ops) == 404
    assert raw_status(hdfs_ui, "/dfshealth.html", edge.ca, ops) in (200, 502)


# --- TLS -------------------------------------------------------------------------------


def handshake(host: str, port: int, context: ssl.SSLContext, server_hostname: str | None) -> bytes:
    with socket.create_connection((host, port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=server_hostname) as tls:
            return tls.getpeercert(binary_form=True)


def test_the_edge_certificate_verifies_against_the_generated_ca(edge):
    host, port = edge.url.removeprefix("https://").rsplit(":", 1)
    context = ssl.create_default_context(cafile=edge.ca)  # hostname checked too
    served = x509.load_der_x509_certificate(handshake(host, int(port), context, host))
    with open(edge.ca, "rb") as handle:
        ca = x509.load_pem_x509_certificate(handle.read())
    served.verify_directly_issued_by(ca)
    kafka_host, kafka_port = edge.kafka.rsplit(":", 1)
    assert handshake(kafka_host, int(kafka_port), context, kafka_host) == served.public_bytes(Encoding.DER)


def test_a_client_trusting_only_the_system_store_is_refused(edge):
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get(f"{edge.url}/elasticsearch/", verify=True, timeout=30)


def test_a_client_that_names_no_host_gets_no_certificate(edge):
    """sniStrict: no SNI (a scanner dialling the address) ends the handshake."""
    host, port = edge.url.removeprefix("https://").rsplit(":", 1)
    context = ssl.create_default_context(cafile=edge.ca)
    context.check_hostname = False
    with pytest.raises(ssl.SSLError):
        handshake(socket.gethostbyname(host), int(port), context, None)


# --- Kafka through the edge --------------------------------------------------------------


def test_kafka_produce_and_consume_over_sasl_ssl(edge, kafka_settings, kafka_admin, unique_name):
    assert kafka_settings.security_protocol == "SASL_SSL"
    values = [b"m0", b"m1", b"m2"]
    received = kafka_round_trip(
        kafka_settings.client_config(), kafka_admin, unique_name("edge-roundtrip"), unique_name("edge-group"), values
    )
    assert received == values


def test_the_broker_sends_clients_back_through_the_edge(edge, kafka_admin):
    brokers = kafka_admin.list_topics(timeout=30).brokers.values()
    assert [f"{b.host}:{b.port}" for b in brokers] == [edge.kafka]


def test_kafka_at_the_edge_refuses_a_wrong_password(edge, kafka_settings):
    errors = []
    producer = Producer({**kafka_settings.client_config(), "sasl.password": WRONG, "error_cb": errors.append})
    for _ in range(60):
        producer.poll(0.25)
        if errors:
            break
    assert any(error.code() == KafkaError._AUTHENTICATION for error in errors), errors


def test_a_kafka_client_trusting_only_the_system_store_is_refused(edge, kafka_settings):
    """KAFKA_SSL_CA_LOCATION left empty: librdkafka checks the edge's certificate against the
    system's trust store, which does not hold the generated CA, and gets no further."""
    errors = []
    config = {**kafka_settings.client_config(), "error_cb": errors.append, "log_level": 0}
    assert config.pop("ssl.ca.location")
    admin = AdminClient(config)
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=10)
    admin.poll(1)  # serves the error callbacks
    assert any(error.code() == KafkaError._SSL and "certificate verify failed" in error.str() for error in errors), [
        error.str() for error in errors
    ]


def test_the_kafka_tls_port_refuses_plaintext(edge, kafka_settings):
    config = {**kafka_settings.client_config(), "security.protocol": "SASL_PLAINTEXT", "error_cb": lambda e: None}
    config.pop("ssl.ca.location", None)
    with pytest.raises(KafkaException):
        AdminClient(config).list_topics(timeout=5)
    # the bytes of a Kafka ApiVersions request get no Kafka answer: Traefik only speaks TLS there
    host, port = edge.kafka.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(bytes.fromhex("0000001400120003000000010008746573742d636c6900"))
        raw.settimeout(10)
        try:
            answer = raw.recv(64)
        except (ConnectionResetError, TimeoutError):
            answer = b""
    assert not answer.startswith(b"\x00\x00")  # a Kafka response starts with its length


# --- least privilege ---------------------------------------------------------------------


class As:
    """Requests as one account, verifying the edge against its CA (per request: a
    session's `verify` would lose to REQUESTS_CA_BUNDLE)."""

    def __init__(self, auth, ca: str):
        self.auth, self.ca = auth, ca

    def __getattr__(self, method: str):
        return partial(requests.request, method.upper(), auth=self.auth, verify=self.ca)


def es_as(edge, pipeline_env, prefix: str) -> As:
    return As(account(pipeline_env, prefix), edge.ca)


def test_the_apis_elasticsearch_account_only_reads(edge, pipeline_env, es):
    index = f"{pipeline_env.get('ES_INDEX', 'hadoop-object-counts-v1')}-edge-{uuid.uuid4().hex[:8]}"
    es.index(index=index, id="1", document={"count": 1}, refresh=True)
    api = es_as(edge, pipeline_env, "FRONTEND_ES")
    base = f"{edge.url}/elasticsearch/{index}"
    try:
        assert api.get(f"{base}/_search", timeout=30).json()["hits"]["total"]["value"] == 1
        assert api.put(f"{base}/_doc/2", json={"count": 2}, timeout=30).status_code == 403
        assert api.delete(f"{base}/_doc/1", timeout=30).status_code == 403
        assert api.delete(base, timeout=30).status_code == 403
        assert api.get(f"{edge.url}/elasticsearch/_cluster/settings", timeout=30).status_code == 403
    finally:
        es.indices.delete(index=index)


def test_each_indexer_writes_only_its_own_indices(edge, pipeline_env, es):
    batch = es_as(edge, pipeline_env, "INDEXER_ES")
    suffix = uuid.uuid4().hex[:8]
    own = f"{pipeline_env.get('ES_INDEX', 'hadoop-object-counts-v1')}-edge-{suffix}"
    live = f"object-counts-live-edge-{suffix}"
    try:
        assert batch.put(f"{edge.url}/elasticsearch/{own}/_doc/1", json={"n": 1}, timeout=30).status_code == 201
        assert batch.put(f"{edge.url}/elasticsearch/{live}/_doc/1", json={"n": 1}, timeout=30).status_code == 403
        live_indexer = es_as(edge, pipeline_env, "LIVE_ES")
        assert live_indexer.put(f"{edge.url}/elasticsearch/{own}/_doc/2", json={"n": 1}, timeout=30).status_code == 403
    finally:
        es.indices.delete(index=[own, live], ignore_unavailable=True)


def stage_client(kafka_settings, env, prefix: str) -> dict:
    return {
        **kafka_settings.client_config(),
        "sasl.username": env[f"{prefix}_KAFKA_USERNAME"],
        "sasl.password": env[f"{prefix}_KAFKA_PASSWORD"],
    }


def test_the_producer_account_cannot_write_dead_letters(pipeline_env, kafka_settings, edge):
    producer = Producer({**stage_client(kafka_settings, pipeline_env, "PRODUCER"), "message.timeout.ms": 20000})
    outcomes = []
    producer.produce(
        pipeline_env.get("KAFKA_DEAD_LETTER_TOPIC", "images-dead-letter"),
        b"not mine",
        on_delivery=lambda err, _m: outcomes.append(err),
    )
    producer.flush(30)
    assert [error.code() for error in outcomes] == [KafkaError.TOPIC_AUTHORIZATION_FAILED]


def test_the_producer_account_cannot_read_images_in_another_group(pipeline_env, kafka_settings, edge):
    consumer = Consumer(
        {
            **stage_client(kafka_settings, pipeline_env, "PRODUCER"),
            "group.id": f"not-the-producers-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.subscribe([pipeline_env.get("KAFKA_IMAGES_TOPIC", "images")])
        errors = []
        for _ in range(30):
            message = consumer.poll(1.0)
            if message is not None and message.error() is not None:
                errors.append(message.error().code())
                break
    finally:
        consumer.close()
    assert errors and errors[0] in {KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError.TOPIC_AUTHORIZATION_FAILED}


# --- every stage through the edge ------------------------------------------------------


def stage_kafka(stage: str, env) -> KafkaSettings:
    """The Kafka settings a stage builds from the environment, as its entry point does."""
    from archiver.settings import ArchiverSettings
    from consumer.settings import ConsumerSettings
    from es_live.settings import LiveIndexerSettings
    from producer.settings import ProducerSettings

    loaders = {
        "producer": ProducerSettings,
        "consumer": ConsumerSettings,
        "live indexer": LiveIndexerSettings,
        "archiver": ArchiverSettings,
    }
    return loaders[stage].from_env(env).kafka


def stage_es(stage: str, env) -> ElasticsearchSettings:
    """The Elasticsearch settings a stage builds from the environment."""
    from es_indexer.settings import IndexerSettings
    from es_live.settings import LiveIndexerSettings
    from scheduler.settings import SchedulerSettings
    from simple_frontend.settings import FrontendSettings

    return {
        "api": lambda: FrontendSettings.from_env(env).elasticsearch,
        "indexer": lambda: IndexerSettings.from_env(env).es,
        "live_indexer": lambda: LiveIndexerSettings.from_env(env).es,
        "scheduler": lambda: SchedulerSettings.from_env(env).es,
    }[stage]()


@pytest.mark.parametrize(
    "stage, own_topic",
    [
        ("producer", "KAFKA_IMAGES_TOPIC"),
        ("consumer", "KAFKA_IMAGES_TOPIC"),
        ("live indexer", "KAFKA_DETECTIONS_TOPIC"),
        ("archiver", "KAFKA_DETECTIONS_TOPIC"),
    ],
)
def test_each_stage_reaches_kafka_only_through_the_edge_with_its_own_account(edge, pipeline_env, stage, own_topic):
    """What the pipeline runs with (`make demo`, tests/integration/test_pipeline.py): the
    stage's settings bootstrap at the edge's TLS port, and the broker then names only the
    edge, so every later connection of that stage goes through Traefik too."""
    settings = stage_kafka(stage, pipeline_env)
    assert settings.username != ADMIN_USER
    config = settings.client_config()
    assert (config["security.protocol"], config["bootstrap.servers"]) == ("SASL_SSL", edge.kafka)
    metadata = AdminClient({**config, "error_cb": lambda e: None}).list_topics(timeout=30)
    assert [f"{b.host}:{b.port}" for b in metadata.brokers.values()] == [edge.kafka]
    assert pipeline_env.get(own_topic, own_topic.removeprefix("KAFKA_").removesuffix("_TOPIC").lower()) in (
        metadata.topics
    )


@pytest.mark.parametrize("stage", sorted(ROLE_OF_STAGE))
def test_each_stage_reaches_elasticsearch_through_the_edge_with_its_own_role(edge, pipeline_env, stage):
    settings = stage_es(stage, pipeline_env)
    assert str(settings.url).rstrip("/") == f"{edge.url}/elasticsearch"
    who = elasticsearch_client(settings).security.authenticate()
    assert (who["username"], who["roles"]) == (settings.username, [ROLE_OF_STAGE[stage]])
