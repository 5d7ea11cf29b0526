"""Client factories: built from settings in a stage's `main`, never at import time."""
from __future__ import annotations

from .settings import ElasticsearchSettings, S3Settings


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
