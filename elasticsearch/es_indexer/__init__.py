"""Indexes the aggregation job's `part-*` output into Elasticsearch.

The folder above (`elasticsearch/`) has no __init__.py on purpose: as a package it
would shadow the `elasticsearch` client library."""
