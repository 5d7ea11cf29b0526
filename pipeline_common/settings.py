"""Connection settings for the three services every stage may talk to.

Defaults point at the local development services (`make up`); secrets have no
defaults and must come from `.env` or the environment.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .environment import SettingsError, flag, require


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
    security_protocol: str = "SASL_PLAINTEXT"
    sasl_mechanism: str = "PLAIN"
    ssl_ca_location: str = ""
    images_topic: str = "images"
    dead_letter_topic: str = "images-dead-letter"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "KafkaSettings":
        protocol = env.get("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT").upper()
        if protocol not in {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}:
            raise SettingsError(f"KAFKA_SECURITY_PROTOCOL: unknown protocol {protocol!r}")
        needs_sasl = protocol.startswith("SASL")
        return cls(
            bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            username=require(env, "KAFKA_USERNAME") if needs_sasl else "",
            password=require(env, "KAFKA_PASSWORD") if needs_sasl else "",
            security_protocol=protocol,
            sasl_mechanism=env.get("KAFKA_SASL_MECHANISM", "PLAIN"),
            ssl_ca_location=env.get("KAFKA_SSL_CA_LOCATION", ""),
            images_topic=env.get("KAFKA_IMAGES_TOPIC", "images"),
            dead_letter_topic=env.get("KAFKA_DEAD_LETTER_TOPIC", "images-dead-letter"),
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

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "ElasticsearchSettings":
        return cls(
            url=env.get("ES_URL", "http://127.0.0.1:9200"),
            username=env.get("ES_USERNAME", "elastic"),
            password=require(env, "ES_PASSWORD"),
            verify_certs=flag(env, "ES_VERIFY_CERTS", True),
            ca_certs=env.get("ES_CA_CERTS", ""),
            index=env.get("ES_INDEX", "hadoop-object-counts-v1"),
            runs_index=env.get("ES_RUNS_INDEX", "pipeline-batch-runs"),
        )

    def __repr__(self) -> str:
        return f"ElasticsearchSettings(url={self.url!r}, username={self.username!r})"
