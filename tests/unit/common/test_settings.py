import pytest

from pipeline_common.environment import SettingsError, read_environment
from pipeline_common.settings import ElasticsearchSettings, KafkaSettings, S3Settings

BASE = {
    "S3_ACCESS_KEY": "AKLOCAL",
    "S3_SECRET_KEY": "s3-secret",
    "KAFKA_USERNAME": "pipeline",
    "KAFKA_PASSWORD": "kafka-secret",
    "ES_PASSWORD": "es-secret",
}


def test_defaults_point_at_the_local_services():
    assert S3Settings.from_env(BASE).endpoint_url == "http://127.0.0.1:8333"
    # Kafka and Elasticsearch through the edge (Traefik), as in production
    assert KafkaSettings.from_env(BASE).bootstrap_servers == "localhost:9094"
    assert ElasticsearchSettings.from_env(BASE).url == "https://localhost:8443/elasticsearch"


def test_tls_verification_is_on_by_default():
    assert S3Settings.from_env(BASE).verify_tls is True
    assert ElasticsearchSettings.from_env(BASE).verify_certs is True


@pytest.mark.parametrize("missing", sorted(BASE))
def test_missing_secret_names_the_variable(missing):
    env = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(SettingsError, match=missing):
        S3Settings.from_env(env)
        KafkaSettings.from_env(env)
        ElasticsearchSettings.from_env(env)


def test_kafka_client_config_uses_sasl_plain_inside_tls():
    config = KafkaSettings.from_env({**BASE, "KAFKA_SSL_CA_LOCATION": "/ca.pem"}).client_config()
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanism"] == "PLAIN"
    assert config["sasl.password"] == "kafka-secret"
    assert config["ssl.ca.location"] == "/ca.pem"
    assert "enable.ssl.certificate.verification" not in config  # librdkafka's default: verify


def test_each_stage_logs_in_with_its_own_account():
    env = {**BASE, "PRODUCER_KAFKA_USERNAME": "producer", "PRODUCER_KAFKA_PASSWORD": "p",
           "INDEXER_ES_USERNAME": "batch-indexer", "INDEXER_ES_PASSWORD": "i"}
    kafka = KafkaSettings.from_env(env, account="PRODUCER")
    assert (kafka.username, kafka.password) == ("producer", "p")
    es = ElasticsearchSettings.from_env(env, account="INDEXER")
    assert (es.username, es.password) == ("batch-indexer", "i")
    with pytest.raises(SettingsError, match="CONSUMER_KAFKA_USERNAME"):
        KafkaSettings.from_env(env, account="CONSUMER")  # never another stage's (or a shared) account


def test_plaintext_kafka_needs_no_credentials():
    config = KafkaSettings.from_env({"KAFKA_SECURITY_PROTOCOL": "plaintext"}).client_config()
    assert "sasl.username" not in config


def test_bad_boolean_is_refused():
    with pytest.raises(SettingsError, match="ES_VERIFY_CERTS"):
        ElasticsearchSettings.from_env({**BASE, "ES_VERIFY_CERTS": "maybe"})


def test_secrets_never_appear_in_repr():
    for settings in (
        S3Settings.from_env(BASE),
        KafkaSettings.from_env(BASE),
        ElasticsearchSettings.from_env(BASE),
    ):
        assert "secret" not in repr(settings)


def test_environment_overrides_dotenv(tmp_path, monkeypatch):
    dotenv = tmp_path / ".env"
    dotenv.write_text("S3_BUCKET=from-file\nES_INDEX=file-index\n")
    monkeypatch.setenv("S3_BUCKET", "from-environment")
    env = read_environment(dotenv)
    assert env["S3_BUCKET"] == "from-environment"
    assert env["ES_INDEX"] == "file-index"
