"""What a Kafka error means, the same for every stage (as `s3` does for S3): the errors
no retry can fix. Anything else librdkafka retries by itself, or the stage retries."""
from __future__ import annotations

from confluent_kafka import KafkaError

# The broker refuses this client's credentials or permissions.
REFUSED = frozenset({
    KafkaError._AUTHENTICATION,
    KafkaError.SASL_AUTHENTICATION_FAILED,
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.GROUP_AUTHORIZATION_FAILED,
})
# A delivery the broker will never accept: the account may not write the topic, or the
# message is larger than the broker takes.
UNDELIVERABLE = frozenset({
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.CLUSTER_AUTHORIZATION_FAILED,
    KafkaError.MSG_SIZE_TOO_LARGE,
    KafkaError.INVALID_RECORD,
})


def refused(error: object) -> bool:
    """A fatal error, or credentials or permissions refused."""
    return isinstance(error, KafkaError) and (error.fatal() or error.code() in REFUSED)


def undeliverable(error: object) -> bool:
    """A delivery report's error that retrying the same message cannot fix."""
    return isinstance(error, KafkaError) and (error.fatal() or error.code() in UNDELIVERABLE)
