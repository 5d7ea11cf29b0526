"""Connection settings for the three services every stage may talk to.

Defaults point at the local development services (`make up`); secrets have no
defaults and must come from `.env` or the environment.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from .environment import SettingsError, flag, require

_LIVE_PREFIX = re.compile(r"^[a-z0-9][a-z0-9._-]{0,200}[-_.]$")


@dataclass(frozen=True)
class S3Settings:
    endpoint_url: str
    access_key: str
    secret_key: str = ""
    bucket: str = "image-pipeline"
    region: str = "us-east-1"
    verify_tls: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "S3Settings":
        return cls(
            endpoint_url=env.get("S3_ENDPOINT_URL", "http://127.0.0.1:8333"),
            access_key=require(env, "S3_ACCESS_KEY"),
            secret_key=require(env, "S3_SECRET_KEY"),
            bucket=env.get("S3_BUCKET", "image-pipeline"),
            region=env.get("S3_REGION", "us-east-1"),
            verify_tls=flag(env, "S3_VERIFY_TLS", True),
        )

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def __repr__(self) -> str:  # never print the secret
        return f"S3Settings(endpoint_url={self.endpoint_url!r}, bucket={self.bucket!r})"


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str
    username: str = ""
    password: str = ""
    security_protocol: str = "SASL_SSL"
    sasl_mechanism: str = "PLAIN"
    ssl_ca_location: str = ""
    images_topic: str = "images"
    dead_letter_topic: str = "images-dead-letter"
    detections_topic: str = "detections"

    @classmethod
    def from_env(cls, env: Mapping[str, str], account: str = "") -> "KafkaSettings":
        """`account`: the stage whose own account logs in (PRODUCER -> PRODUCER_KAFKA_USERNAME
        and PRODUCER_KAFKA_PASSWORD); empty: KAFKA_USERNAME and KAFKA_PASSWORD."""
        protocol = env.get("KAFKA_SECURITY_PROTOCOL", "SASL_SSL").upper()
        if protocol not in {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}:
            raise SettingsError(f"KAFKA_SECURITY_PROTOCOL: unknown protocol {protocol!r}")
        needs_sasl = protocol.startswith("SASL")
        prefix = f"{account}_KAFKA" if account else "KAFKA"
        return cls(
            bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9094"),
            username=require(env, f"{prefix}_USERNAME") if needs_sasl else "",
            password=require(env, f"{prefix}_PASSWORD") if needs_sasl else "",
            security_protocol=protocol,
            sasl_mechanism=env.get("KAFKA_SASL_MECHANISM", "PLAIN"),
            ssl_ca_location=env.get("KAFKA_SSL_CA_LOCATION", ""),
            images_topic=env.get("KAFKA_IMAGES_TOPIC", "images"),
            dead_letter_topic=env.get("KAFKA_DEAD_LETTER_TOPIC", "images-dead-letter"),
            detections_topic=env.get("KAFKA_DETECTIONS_TOPIC", "").strip() or "detections",
        )

    def __post_init__(self) -> None:
        if self.detections_topic in {self.images_topic, self.dead_letter_topic}:
            raise SettingsError(
                f"KAFKA_DETECTIONS_TOPIC ({self.detections_topic!r}) must differ from the images and dead-letter topics"
            )

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
                    "sasl.password": self.password,
                }
            )
        if self.ssl_ca_location:
            config["ssl.ca.location"] = self.ssl_ca_location
        return config

    def __repr__(self) -> str:
        return (
            f"KafkaSettings(bootstrap_servers={self.bootstrap_servers!r}, "
            f"security_protocol={self.security_protocol!r}, username={self.username!r})"
        )


@dataclass(frozen=True)
class ElasticsearchSettings:
    url: str
    username: str = "elastic"
    password: str = ""
    verify_certs: bool = True
    ca_certs: str = ""
    index: str = "hadoop-object-counts-v1"
    runs_index: str = "pipeline-batch-runs"  # records of batch runs (scheduler writes, API reads)
    # the live indices, one per capture day: <prefix>YYYY.MM.DD (see contracts/live_index.py)
    live_index_prefix: str = "object-counts-live-"

    def __post_init__(self) -> None:
        if not _LIVE_PREFIX.match(self.live_index_prefix):
            raise SettingsError(
                "ES_LIVE_INDEX_PREFIX must be lowercase letters, digits, '.', '_' or '-' (not first) "
                f"and end in '-', '_' or '.', got {self.live_index_prefix!r}"
            )
        if self.index.startswith(self.live_index_prefix):
            raise SettingsError(f"ES_INDEX {self.index!r} must not start with ES_LIVE_INDEX_PREFIX")

    @classmethod
    def from_env(cls, env: Mapping[str, str], account: str = "") -> "ElasticsearchSettings":
        """`account`: the stage whose own account logs in (INDEXER -> INDEXER_ES_USERNAME and
        INDEXER_ES_PASSWORD); empty: ES_USERNAME and ES_PASSWORD (the administrator)."""
        prefix = f"{account}_ES" if account else "ES"
        return cls(
            url=env.get("ES_URL", "https://localhost:8443/elasticsearch"),
            username=require(env, f"{prefix}_USERNAME") if account else env.get("ES_USERNAME", "elastic"),
            password=require(env, f"{prefix}_PASSWORD"),
            verify_certs=flag(env, "ES_VERIFY_CERTS", True),
            ca_certs=env.get("ES_CA_CERTS", ""),
            index=env.get("ES_INDEX", "hadoop-object-counts-v1"),
            runs_index=env.get("ES_RUNS_INDEX", "pipeline-batch-runs"),
            live_index_prefix=env.get("ES_LIVE_INDEX_PREFIX", "").strip() or "object-counts-live-",
        )

    def __repr__(self) -> str:
        return f"ElasticsearchSettings(url={self.url!r}, username={self.username!r})"
