import pytest

from pipeline_common.environment import SettingsError, read_environment
from pipeline_common.settings import (
    ConsumerKafkaSettings,
    ElasticsearchSettings,
    FrontendElasticsearchSettings,
    IndexerElasticsearchSettings,
    KafkaAdminSettings,
    ProducerKafkaSettings,
    S3Settings,
)

BASE = {
    "S3_ACCESS_KEY": "AKLOCAL",
    "S3_SECRET_KEY": "s3-secret",
    "PRODUCER_KAFKA_USERNAME": "producer",
    "PRODUCER_KAFKA_PASSWORD": "kafka-secret",
    "ES_PASSWORD": "es-secret",
}
KafkaSettings = ProducerKafkaSettings  # one stage's, for what every account shares


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
    env = {**BASE, "INDEXER_ES_USERNAME": "batch-indexer", "INDEXER_ES_PASSWORD": "i", "KAFKA_ADMIN_PASSWORD": "a"}
    kafka = ProducerKafkaSettings.from_env(env)
    assert (kafka.username, kafka.password.get_secret_value()) == ("producer", "kafka-secret")
    es = IndexerElasticsearchSettings.from_env(env)
    assert (es.username, es.password.get_secret_value()) == ("batch-indexer", "i")
    assert ElasticsearchSettings.from_env(env).username == "elastic"  # the administrator
    assert KafkaAdminSettings.from_env(env).client_config()["sasl.username"] == "admin"
    # never another stage's (or a shared) account
    with pytest.raises(SettingsError, match="CONSUMER_KAFKA_USERNAME.*CONSUMER_KAFKA_PASSWORD"):
        ConsumerKafkaSettings.from_env(env)
    with pytest.raises(SettingsError, match="FRONTEND_ES_USERNAME"):
        FrontendElasticsearchSettings.from_env(env)


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


def test_from_the_environment_the_environment_wins_over_dotenv(tmp_path, monkeypatch):
    dotenv = tmp_path / "other.env"
    dotenv.write_text("S3_ACCESS_KEY=file-key\nS3_SECRET_KEY=file-secret\nS3_BUCKET=from-file\nS3_REGION=eu-north-1\n")
    monkeypatch.setenv("PIPELINE_DOTENV", str(dotenv))
    monkeypatch.setenv("S3_BUCKET", "from-environment")
    monkeypatch.delenv("S3_REGION", raising=False)
    settings = S3Settings.from_env()
    assert (settings.bucket, settings.region) == ("from-environment", "eu-north-1")
    assert settings.secret_key.get_secret_value() == "file-secret"
    assert S3Settings.from_env(bucket="from-command-line").bucket == "from-command-line"


def test_a_mapping_is_read_instead_of_the_environment(monkeypatch):
    monkeypatch.setenv("S3_BUCKET", "from-environment")
    assert S3Settings.from_env(BASE).bucket == "image-pipeline"


def test_empty_values_mean_the_default():
    assert S3Settings.from_env({**BASE, "S3_REGION": "", "S3_VERIFY_TLS": " "}).region == "us-east-1"


def test_every_missing_secret_is_named_at_once():
    with pytest.raises(SettingsError) as error:
        ElasticsearchSettings.from_env({"ES_URL": "not a url"})
    assert "ES_PASSWORD is not set" in str(error.value) and "ES_URL must be an http(s) URL" in str(error.value)


def test_a_secret_value_never_appears_in_an_error():
    with pytest.raises(SettingsError) as error:
        S3Settings.from_env({**BASE, "S3_VERIFY_TLS": "perhaps"}).replace(secret_key=" ")
    assert "S3_VERIFY_TLS" in str(error.value) and "s3-secret" not in str(error.value)
    with pytest.raises(SettingsError, match="secret key is not set"):
        S3Settings.from_env(BASE).replace(secret_key="   ")


def test_settings_are_frozen():
    settings = S3Settings.from_env(BASE)
    with pytest.raises(ValueError):
        settings.bucket = "elsewhere"
