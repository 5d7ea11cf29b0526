"""Starts the pipeline's real services (Kafka, Elasticsearch, an S3 server, Hadoop) as
local processes, for development machines and CI without a Docker engine."""
