"""Connection settings for the three services every stage may talk to, and the checked
types the stages' own settings share.

Defaults point at the local development services (`make up`); secrets have no
defaults and must come from `.env` or the environment.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, model_validator

from .contracts import ContractError
from .environment import Settings, SettingsError
from .output_runs import check_prefix, check_run_id


def _present(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().strip():
        raise ValueError("is not set")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("must be an http(s) URL such as http://127.0.0.1:8333")
    return value


def _pattern(regex: str, what: str):
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.match(value) or value in {".", ".."}:
            raise ValueError(f"must be {what}")
        return value

    return check


def _prefix(value: str) -> str:
    try:
        return check_prefix(value)
    except ContractError:
        raise ValueError("must be a relative folder ending in '/' (a prefix such as metadata/)") from None


def _run_id(value: str) -> str:
    try:
        return check_run_id(value)
    except ContractError:
        raise ValueError("must look like 20261128T120000Z (optionally -suffix)") from None


# A credential: required, never blank, never in a repr or an error message.
Secret = Annotated[SecretStr, Field(repr=False), AfterValidator(_present)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
BucketName = Annotated[
    str, AfterValidator(_pattern(r"^[a-z0-9][a-z0-9.-]{0,62}$", "a bucket name: lowercase letters, digits, '.' or '-'"))
]
TopicName = Annotated[
    str, AfterValidator(_pattern(r"^[A-Za-z0-9._-]{1,249}$", "a Kafka topic name (letters, digits, '.', '_', '-')"))
]
# Elasticsearch's own rules, narrowed: lowercase, no wildcards, separators or leading '-_+'
IndexName = Annotated[
    str,
    AfterValidator(
        _pattern(
            r"^[a-z0-9][a-z0-9._-]{0,254}$",
            "a valid index name: lowercase letters, digits, '.', '_' or '-' (not first)",
        )
    ),
]
LiveIndexPrefix = Annotated[
    str,
    AfterValidator(
        _pattern(
            r"^[a-z0-9][a-z0-9._-]{0,200}[-_.]$",
            "lowercase letters, digits, '.', '_' or '-' (not first), ending in '-', '_' or '.'",
        )
    ),
]
Prefix = Annotated[str, AfterValidator(_prefix)]
RunId = Annotated[str, AfterValidator(_run_id)]
# Read by both Kafka consumer groups (the detectors and the live indexer).
AutoOffsetReset = Annotated[
    Literal["earliest", "latest"],
    Field(
        alias="KAFKA_AUTO_OFFSET_RESET",
        description="Where a new consumer group starts reading: earliest (nothing announced is skipped) or latest.",
    ),
]
# Names a stage owns that local_services also reads, to grant that stage its rights on them
# (cloud-services/local_services/accounts.py).
DetectorGroup = Annotated[
    str,
    Field(
        alias="KAFKA_CONSUMER_GROUP",
        min_length=1,
        description="Consumer group of the detectors (start more consumers in it for more partitions).",
    ),
]
LiveGroup = Annotated[
    str,
    Field(
        alias="LIVE_CONSUMER_GROUP",
        min_length=1,
        description="The live indexer's own consumer group on KAFKA_DETECTIONS_TOPIC.",
    ),
]
ArchiverGroup = Annotated[
    str,
    Field(
        alias="ARCHIVER_CONSUMER_GROUP",
        min_length=1,
        description="The detection archiver's own consumer group on KAFKA_DETECTIONS_TOPIC.",
    ),
]
DetectionsDeadLetterTopic = Annotated[
    TopicName,
    Field(
        alias="KAFKA_DETECTIONS_DEAD_LETTER_TOPIC",
        description="Where malformed events and documents Elasticsearch refuses go (not KAFKA_DETECTIONS_TOPIC).",
    ),
]
SchedulerLockIndex = Annotated[
    IndexName,
    Field(
        alias="SCHEDULER_LOCK_INDEX",
        description="Index of the lock that lets one batch run at a time across schedulers.",
    ),
]
ImagesTopicPartitions = Annotated[
    int,
    Field(
        alias="KAFKA_IMAGES_TOPIC_PARTITIONS",
        ge=1,
        description="Partitions of the images topic when the producer (or `make up`) creates it.",
    ),
]
DashboardPort = Annotated[
    int,
    Field(
        alias="FRONTEND_PORT",
        ge=1,
        le=65535,
        description="Port the dashboard listens on (where the edge finds it locally).",
    ),
]
# Written by the archiver, read by the aggregation (contracts/detection_archive.py).
ArchivePrefix = Annotated[
    Prefix,
    Field(
        alias="DETECTIONS_ARCHIVE_PREFIX",
        description="Folder in the bucket of the detection archive: the detection events in hour files "
        "(<prefix>date=YYYY-MM-DD/hour=HH/*.jsonl.gz); written by the archiver, read by the aggregation.",
    ),
]
# Read by the aggregation (writer) and the indexer (reader), so both agree where runs are.
OutputPrefix = Annotated[
    Prefix,
    Field(
        alias="AGGREGATION_OUTPUT_PREFIX",
        description="Folder in the bucket holding the aggregation runs (<prefix><run-id>/part-*, _SUCCESS); "
        "read by the aggregation and the indexer alike.",
    ),
]


class S3Settings(Settings):
    endpoint_url: HttpUrl = Field(
        "http://127.0.0.1:8333", alias="S3_ENDPOINT_URL", description="S3-compatible object storage endpoint."
    )
    access_key: Secret = Field(alias="S3_ACCESS_KEY", description="S3 access key id.")
    secret_key: Secret = Field(alias="S3_SECRET_KEY", description="S3 secret key.")
    bucket: BucketName = Field("image-pipeline", alias="S3_BUCKET", description="The pipeline's bucket.")
    region: str = Field("us-east-1", alias="S3_REGION", min_length=1, description="Region the requests are signed for.")
    verify_tls: bool = Field(
        True,
        alias="S3_VERIFY_TLS",
        description="Keep true against any TLS endpoint; false only for a self-signed test server.",
    )

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


class ArchiverS3Settings(S3Settings):
    """The detection archiver's own S3 account: it may only write objects under the
    detection archive's prefix (cloud-services/README.md, "Least privilege")."""

    access_key: Secret = Field(
        alias="ARCHIVER_S3_ACCESS_KEY",
        description="The detection archiver's own S3 access key id (writes the archive only).",
    )
    secret_key: Secret = Field(alias="ARCHIVER_S3_SECRET_KEY", description="Its secret key.")


class FrontendS3Settings(S3Settings):
    """The dashboard's own S3 account: it may only read the images (images/), to show them
    and make their thumbnails."""

    access_key: Secret = Field(
        alias="FRONTEND_S3_ACCESS_KEY", description="The dashboard's own S3 access key id (reads images/ only)."
    )
    secret_key: Secret = Field(alias="FRONTEND_S3_SECRET_KEY", description="Secret of FRONTEND_S3_ACCESS_KEY.")


SECURITY_PROTOCOLS = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SASL_MECHANISMS = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


def _upper(value):
    return value.upper() if isinstance(value, str) else value


class KafkaSettings(Settings):
    """How every Kafka client connects. The account is each user's own: a stage reads its
    own variables (ProducerKafkaSettings, ... below), so it can do only its own job (the
    broker's ACLs), and the broker's own account is KafkaAdminSettings."""

    bootstrap_servers: str = Field(
        "localhost:9094",
        alias="KAFKA_BOOTSTRAP_SERVERS",
        min_length=1,
        description="Brokers, host:port[,host:port...]: the edge's TLS entry point "
        "(Traefik), locally as in production.",
    )
    security_protocol: Annotated[SECURITY_PROTOCOLS, BeforeValidator(_upper)] = Field(
        "SASL_SSL",
        alias="KAFKA_SECURITY_PROTOCOL",
        description="SASL_SSL through the edge; SASL_PLAINTEXT only straight to a broker's own listener.",
    )
    sasl_mechanism: Annotated[SASL_MECHANISMS, BeforeValidator(_upper)] = Field(
        "PLAIN",
        alias="KAFKA_SASL_MECHANISM",
        description="SASL mechanism of the account.",
    )
    # No variable here: the subclasses say whose account it is.
    username: str = Field("", description="Kafka account (needed with SASL_*).")
    password: SecretStr | None = Field(None, repr=False, description="Its password (needed with SASL_*).")
    ssl_ca_location: str = Field(
        "",
        alias="KAFKA_SSL_CA_LOCATION",
        description="CA bundle for SASL_SSL when the edge's certificate is not publicly trusted (`make up` writes "
        "the local CA's path); empty: the system's trust store.",
    )
    images_topic: TopicName = Field("images", alias="KAFKA_IMAGES_TOPIC", description="Topic announcing new images.")
    dead_letter_topic: TopicName = Field(
        "images-dead-letter",
        alias="KAFKA_DEAD_LETTER_TOPIC",
        description="Topic of what the consumer could not process, with the reason.",
    )
    detections_topic: TopicName = Field(
        "detections",
        alias="KAFKA_DETECTIONS_TOPIC",
        description="Topic of the consumer's detection events (the live layer's "
        "input); must differ from the two above.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSettings:
        if self.detections_topic in {self.images_topic, self.dead_letter_topic}:
            raise SettingsError(
                f"KAFKA_DETECTIONS_TOPIC ({self.detections_topic!r}) must differ from the images and dead-letter topics"
            )
        if self.security_protocol.startswith("SASL"):
            password = self.password.get_secret_value() if self.password else ""
            fields = type(self).model_fields
            missing = [
                fields[name].alias or name
                for name, value in (("username", self.username), ("password", password))
                if not value.strip()
            ]
            if missing:
                raise SettingsError(missing=[f"{name} ({self.security_protocol} needs it)" for name in missing])
        return self

    def client_config(self) -> dict[str, str]:
        """librdkafka properties shared by producers, consumers and admin clients."""
        config = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        if self.security_protocol.startswith("SASL"):
            config.update(
                {
                    "sasl.mechanism": self.sasl_mechanism,
                    "sasl.username": self.username,
                    "sasl.password": self.password.get_secret_value() if self.password else "",
                }
            )
        if self.ssl_ca_location:
            config["ssl.ca.location"] = self.ssl_ca_location
        return config

    def durable_producer_config(self, delivery_timeout_ms: int = 30_000) -> dict:
        """A producer whose acknowledged messages are durable (dead letters, detection
        events): idempotent, acks from all replicas; a message not acknowledged within
        `delivery_timeout_ms` is reported as failed."""
        return {
            **self.client_config(),
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": delivery_timeout_ms,
        }


def _kafka_account(stage: str, prefix: str, rights: str) -> tuple:
    return (
        Field("", alias=f"{prefix}_KAFKA_USERNAME", description=f"The {stage}'s own Kafka account ({rights})."),
        Field(None, alias=f"{prefix}_KAFKA_PASSWORD", repr=False, description=f"Password of {prefix}_KAFKA_USERNAME."),
    )


_PRODUCER = _kafka_account("producer", "PRODUCER", "ACLs: writes, and may create, the images topic")
_CONSUMER = _kafka_account(
    "detector", "CONSUMER", "ACLs: reads the images topic in its group, writes the dead-letter and detections topics"
)
_LIVE = _kafka_account(
    "live indexer", "LIVE", "ACLs: reads the detections topic in its group, writes their dead-letter topic"
)
_ARCHIVER = _kafka_account("detection archiver", "ARCHIVER", "ACLs: reads the detections topic in its group")


class ProducerKafkaSettings(KafkaSettings):
    username: str = _PRODUCER[0]
    password: SecretStr | None = _PRODUCER[1]


class ConsumerKafkaSettings(KafkaSettings):
    username: str = _CONSUMER[0]
    password: SecretStr | None = _CONSUMER[1]


class LiveKafkaSettings(KafkaSettings):
    username: str = _LIVE[0]
    password: SecretStr | None = _LIVE[1]


class ArchiverKafkaSettings(KafkaSettings):
    username: str = _ARCHIVER[0]
    password: SecretStr | None = _ARCHIVER[1]


KAFKA_ADMIN_USER = "admin"


class KafkaAdminSettings(KafkaSettings):
    """The broker's own account, its only super user: creates topics and ACLs (`make up`,
    `local-services accounts kafka`, the tests' set-up); no stage uses it."""

    username: str = Field(KAFKA_ADMIN_USER, description="The broker's own account.")
    password: SecretStr | None = Field(
        None,
        alias="KAFKA_ADMIN_PASSWORD",
        repr=False,
        description="Password of the broker's own account `admin`, its only super "
        "user: creates topics and ACLs (make up, the tests' set-up); no stage uses it.",
    )


class ElasticsearchSettings(Settings):
    """How every Elasticsearch client connects. ES_USERNAME is the administrator (`elastic`
    locally: set-up, tests); each stage reads its own account (FrontendElasticsearchSettings,
    ... below), whose role allows only its own job."""

    url: HttpUrl = Field(
        "https://localhost:8443/elasticsearch",
        alias="ES_URL",
        description="Elasticsearch endpoint: the edge (Traefik), locally as in production.",
    )
    username: str = Field(
        "elastic",
        alias="ES_USERNAME",
        min_length=1,
        description="The administrator (locally the `elastic` superuser): set-up and tests only.",
    )
    password: Secret = Field(alias="ES_PASSWORD", description="Password of ES_USERNAME.")
    verify_certs: bool = Field(
        True,
        alias="ES_VERIFY_CERTS",
        description="Keep true against any https:// URL; point ES_CA_CERTS at a private CA "
        "instead of switching verification off.",
    )
    ca_certs: str = Field("", alias="ES_CA_CERTS", description="CA bundle of a privately signed https:// endpoint.")
    index: IndexName = Field(
        "hadoop-object-counts-v1",
        alias="ES_INDEX",
        description="Index of the object counts (written by the indexer, read by the dashboard).",
    )
    runs_index: IndexName = Field(
        "pipeline-batch-runs",
        alias="ES_RUNS_INDEX",
        description="Index of the batch runs' records (the scheduler writes, the API reads).",
    )
    alert_rules_index: IndexName = Field(
        "pipeline-alert-rules",
        alias="ES_ALERT_RULES_INDEX",
        description="Index of the alert rules (operators write them with python -m "
        "es_live.alerts; the live indexer reads them).",
    )
    alerts_index: IndexName = Field(
        "pipeline-alerts",
        alias="ES_ALERTS_INDEX",
        description="Index of the alerts fired (the live indexer writes, the API reads).",
    )
    # the live indices, one per capture day: <prefix>YYYY.MM.DD (see contracts/live_index.py)
    live_index_prefix: LiveIndexPrefix = Field(
        "object-counts-live-",
        alias="ES_LIVE_INDEX_PREFIX",
        description="Prefix of the live indices, one per capture day (<prefix>YYYY.MM.DD); ES_INDEX may not "
        "start with it.",
    )

    @model_validator(mode="after")
    def _batch_index_is_not_a_live_one(self) -> ElasticsearchSettings:
        if self.index.startswith(self.live_index_prefix):
            raise SettingsError(f"ES_INDEX {self.index!r} must not start with ES_LIVE_INDEX_PREFIX")
        return self


def _es_account(stage: str, prefix: str, rights: str) -> tuple:
    return (
        Field(
            alias=f"{prefix}_ES_USERNAME",
            min_length=1,
            description=f"The {stage}'s own Elasticsearch account (role: {rights}).",
        ),
        Field(alias=f"{prefix}_ES_PASSWORD", description=f"Password of {prefix}_ES_USERNAME."),
    )


_FRONTEND_ES = _es_account("dashboard API", "FRONTEND", "reads the count indices and run records, nothing else")
_INDEXER_ES = _es_account("batch indexer", "INDEXER", "writes the ES_INDEX* indices only")
_LIVE_ES = _es_account("live indexer", "LIVE", "writes the live indices only, and their template")
_SCHEDULER_ES = _es_account(
    "scheduler", "SCHEDULER", "its lease and run records; reads the counts and alert rules, records alerts"
)


class FrontendElasticsearchSettings(ElasticsearchSettings):
    username: str = _FRONTEND_ES[0]
    password: Secret = _FRONTEND_ES[1]


class IndexerElasticsearchSettings(ElasticsearchSettings):
    username: str = _INDEXER_ES[0]
    password: Secret = _INDEXER_ES[1]


class LiveElasticsearchSettings(ElasticsearchSettings):
    username: str = _LIVE_ES[0]
    password: Secret = _LIVE_ES[1]


class SchedulerElasticsearchSettings(ElasticsearchSettings):
    username: str = _SCHEDULER_ES[0]
    password: Secret = _SCHEDULER_ES[1]
