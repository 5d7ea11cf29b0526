"""Builds the producer's service clients on first use, so `prepare` never needs S3 or Kafka."""

from __future__ import annotations

from functools import cached_property

from pipeline_common.clients import s3_client

from .kafka_io import make_admin, make_producer
from .settings import ProducerSettings


class Clients:
    def __init__(self, settings: ProducerSettings):
        self.settings = settings

    @cached_property
    def s3(self):
        return s3_client(self.settings.s3)

    @cached_property
    def producer(self):
        return make_producer(self.settings.kafka, self.settings.delivery_timeout_s)

    @cached_property
    def admin(self):
        """(AdminClient, ClientErrors)"""
        return make_admin(self.settings.kafka)
