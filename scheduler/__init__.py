"""The batch scheduler: runs the aggregation and then the indexer on a cron schedule,
one run at a time across every scheduler process (a lease in Elasticsearch)."""
