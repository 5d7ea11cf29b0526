"""Client factories: built from settings in a stage's `main`, never at import time; and
what stages need of a Kafka producer (the S3 client's calls: `pipeline_common.s3.S3Client`)."""

from __future__ import annotations

from typing import Callable, Protocol

from .settings import ElasticsearchSettings, S3Settings


class MessageProducer(Protocol):
    """The calls the stages make on a confluent_kafka.Producer (or a test's fake)."""

    def produce(
        self,
        topic: str,
        *,
        key: bytes | None = None,
        value: bytes | None = None,
        on_delivery: Callable[..., None] | None = None,
    ) -> None: ...

    def poll(self, timeout: float = ...) -> int: ...

    def flush(self, timeout: float = ...) -> int: ...


def s3_client(settings: S3Settings, **config_overrides):
    import boto3
    from botocore.config import Config

    # overrides win, so a caller with its own retry loop can ask for fewer attempts
    options = {
        "signature_version": "s3v4",
        "s3": {"addressing_style": "path"},
        "retries": {"max_attempts": 8, "mode": "standard"},
        **config_overrides,
    }
    config = Config(**options)
    return boto3.client(
        "s3",
        endpoint_url=settings.endpoint_url,
        aws_access_key_id=settings.access_key.get_secret_value(),
        aws_secret_access_key=settings.secret_key.get_secret_value(),
        region_name=settings.region,
        verify=settings.verify_tls,
        config=config,
    )


def elasticsearch_client(settings: ElasticsearchSettings, **kwargs):
    from elasticsearch import Elasticsearch

    options = dict(
        basic_auth=(settings.username, settings.password.get_secret_value()),
        verify_certs=settings.verify_certs,
        request_timeout=30,
        retry_on_timeout=True,
        max_retries=3,
    )
    if settings.ca_certs and settings.url.startswith("https://"):  # plain http has nothing to verify
        options["ca_certs"] = settings.ca_certs
    if not settings.verify_certs:
        options["ssl_show_warn"] = True
    options.update(kwargs)
    return Elasticsearch(settings.url, **options)
