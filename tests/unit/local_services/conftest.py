"""What `local_services` reads from .env, with every stage's account set (`up` needs them all)."""

from __future__ import annotations

import pytest

from tests.support.ports import taken_port

# The stages' own accounts, as .env.example names them.
ACCOUNTS = {
    "PRODUCER_KAFKA_USERNAME": "producer",
    "PRODUCER_KAFKA_PASSWORD": "pk",
    "CONSUMER_KAFKA_USERNAME": "detector",
    "CONSUMER_KAFKA_PASSWORD": "ck",
    "LIVE_KAFKA_USERNAME": "live-indexer",
    "LIVE_KAFKA_PASSWORD": "lk",
    "ARCHIVER_KAFKA_USERNAME": "archiver",
    "ARCHIVER_KAFKA_PASSWORD": "ak",
    "ARCHIVER_S3_ACCESS_KEY": "AKIAARCHIVER",
    "ARCHIVER_S3_SECRET_KEY": "as",
    "FRONTEND_ES_USERNAME": "dashboard-api",
    "FRONTEND_ES_PASSWORD": "fe",
    "INDEXER_ES_USERNAME": "batch-indexer",
    "INDEXER_ES_PASSWORD": "ie",
    "LIVE_ES_USERNAME": "live-indexer",
    "LIVE_ES_PASSWORD": "le",
    "SCHEDULER_ES_USERNAME": "batch-scheduler",
    "SCHEDULER_ES_PASSWORD": "se",
    "EDGE_DASHBOARD_PASSWORD": "dp",
    "EDGE_OPS_PASSWORD": "op",
    "FRONTEND_S3_ACCESS_KEY": "AKIADASHBOARD",
    "FRONTEND_S3_SECRET_KEY": "fs",
}
# A local stack's .env: the administrators' secrets, S3's, and every stage's account.
LOCAL_ENV = {
    "KAFKA_ADMIN_PASSWORD": "a",
    "ES_PASSWORD": "e",
    "S3_ACCESS_KEY": "AKIA",
    "S3_SECRET_KEY": "s",
    "PATH": "/usr/bin",
    **ACCOUNTS,
}


@pytest.fixture
def busy_port():
    """A port a stranger listens on."""
    with taken_port() as port:
        yield port
