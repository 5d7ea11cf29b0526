"""The detection archiver: the detections topic -> hour-partitioned batch files in S3."""
