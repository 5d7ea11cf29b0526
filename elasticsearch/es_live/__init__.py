"""The live indexer (speed layer): detection events from Kafka -> one Elasticsearch
document per image in daily live indices, so counts reach the dashboard within seconds.

Lives beside `es_indexer` under `elasticsearch/`, which has no __init__.py on purpose
(as a package it would shadow the `elasticsearch` client library)."""
