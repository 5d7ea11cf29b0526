"""The services every stage relies on: reachable with the right credentials, closed without."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests
from botocore.exceptions import ClientError
from confluent_kafka import KafkaError, KafkaException, Producer

from pipeline_common.clients import s3_client
from pipeline_common.environment import PROJECT_ROOT
from tests.support.services import kafka_round_trip

# --- Kafka -----------------------------------------------------------------------------


def test_kafka_round_trip_with_the_configured_account(kafka_settings, kafka_admin, unique_name):
    values = [f"message {n}".encode() for n in range(3)]
    received = kafka_round_trip(
        kafka_settings.client_config(),
        kafka_admin,
        unique_name("services-roundtrip"),
        unique_name("services-group"),
        values,
    )
    assert received == values


@pytest.mark.parametrize("who", ["wrong password", "unknown user"])
def test_kafka_refuses_bad_credentials(kafka_settings, who):
    if who == "wrong password":
        config = {**kafka_settings.client_config(), "sasl.password": "not-the-password"}
    else:
        config = {**kafka_settings.client_config(), "sasl.username": "intruder"}
    errors = []
    config["error_cb"] = errors.append
    producer = Producer(config)  # connects at once; the refusal comes through error_cb
    for _ in range(40):
        producer.poll(0.25)
        if errors:
            break
    assert any(error.code() == KafkaError._AUTHENTICATION for error in errors), errors
    assert "Authentication failed" in " ".join(error.str() for error in errors)


def test_kafka_refuses_clients_without_sasl(kafka_settings):
    producer = Producer(
        {
            "bootstrap.servers": kafka_settings.bootstrap_servers,
            "security.protocol": "PLAINTEXT",
            "error_cb": lambda error: None,
        }
    )
    with pytest.raises(KafkaException):
        producer.list_topics(timeout=3)


def test_kafka_controller_listener_requires_a_password_too(pipeline_env, kafka_settings):
    if pipeline_env.get("PIPELINE_SERVICES", "local") != "local":
        pytest.skip("the controller port is known for the local broker only")
    port = pipeline_env.get("PIPELINE_KAFKA_CONTROLLER_PORT", "9093")
    errors = []
    producer = Producer(
        {
            **kafka_settings.client_config(),
            "bootstrap.servers": f"127.0.0.1:{port}",
            "security.protocol": "SASL_PLAINTEXT",  # the controller's own listener, not the edge
            "sasl.username": "admin",
            "sasl.password": "not-the-password",
            "error_cb": errors.append,
        }
    )
    for _ in range(40):  # the refusal arrives through error_cb, served by poll()
        producer.poll(0.25)
        if errors:
            break
    assert any(error.code() == KafkaError._AUTHENTICATION for error in errors), errors


# --- Elasticsearch -------------------------------------------------------------------------


def test_elasticsearch_answers_with_its_version_when_authenticated(es_settings):
    response = requests.get(
        es_settings.url,
        auth=(es_settings.username, es_settings.password.get_secret_value()),
        verify=es_settings.ca_certs or True,
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["X-Elastic-Product"] == "Elasticsearch"
    assert response.json()["version"]["number"].startswith("8.")


def test_elasticsearch_client_reaches_the_cluster(es):
    assert es.info()["version"]["number"].startswith("8.")
    assert es.cluster.health(wait_for_status="yellow", timeout="10s")["status"] in ("green", "yellow")


@pytest.mark.parametrize("auth", [None, ("elastic", "not-the-password")], ids=["anonymous", "wrong password"])
def test_elasticsearch_refuses_requests_without_valid_credentials(es_settings, auth):
    response = requests.get(
        f"{es_settings.url}/_cluster/health", auth=auth, verify=es_settings.ca_certs or True, timeout=10
    )
    assert response.status_code == 401


# --- S3 ------------------------------------------------------------------------------------


def test_s3_stores_and_lists_objects(s3, s3_settings, unique_name):
    prefix = unique_name("services-test") + "/"
    keys = [f"{prefix}a.txt", f"{prefix}nested/b.txt"]
    try:
        for key in keys:
            s3.put_object(Bucket=s3_settings.bucket, Key=key, Body=key.encode())
        listed = s3.list_objects_v2(Bucket=s3_settings.bucket, Prefix=prefix)
        assert sorted(obj["Key"] for obj in listed["Contents"]) == sorted(keys)
        body = s3.get_object(Bucket=s3_settings.bucket, Key=keys[1])["Body"].read()
        assert body == keys[1].encode()
    finally:
        s3.delete_objects(Bucket=s3_settings.bucket, Delete={"Objects": [{"Key": key} for key in keys]})


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"secret_key": "not-the-secret"}, "SignatureDoesNotMatch"),
        ({"access_key": "UNKNOWN-ACCESS-KEY-0"}, "InvalidAccessKeyId"),
    ],
    ids=["wrong secret", "unknown key"],
)
def test_s3_refuses_bad_credentials(s3_settings, change, expected):
    intruder = s3_client(s3_settings.replace(**change))
    with pytest.raises(ClientError) as refused:
        intruder.list_objects_v2(Bucket=s3_settings.bucket)
    assert refused.value.response["Error"]["Code"] in (expected, "AccessDenied")


def test_s3_refuses_anonymous_requests(s3_settings):
    response = requests.get(f"{s3_settings.endpoint_url}/{s3_settings.bucket}", timeout=10)
    assert response.status_code == 403


# --- the CLI -------------------------------------------------------------------------------


def test_status_reports_every_service_ready(pipeline_env):
    if pipeline_env.get("PIPELINE_SERVICES", "local") != "local":
        pytest.skip("`local_services status` describes the local processes only")
    from local_services.settings import LocalSettings

    result = subprocess.run(
        [sys.executable, "-m", "local_services", "status"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    settings = LocalSettings.from_env(pipeline_env)
    ports = {
        "kafka": str(settings.kafka_port),
        "elasticsearch": str(settings.es_port),
        "s3": str(settings.s3_port),
        "traefik": str(settings.edge.https_port),
    }
    for service, port in ports.items():
        assert rows[service][2] == port
        assert rows[service][3] == "yes", result.stdout
    assert rows["hadoop"][-1] == "installed"
