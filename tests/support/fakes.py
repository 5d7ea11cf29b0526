"""The fakes the unit tests hand to the code instead of real clients: S3, Kafka, the
detector, Elasticsearch. Each does the few calls the code makes, over plain data, and
records what it was asked, so a test checks the outcome a user would see."""

from __future__ import annotations

import io
import json
from collections import namedtuple
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

import numpy as np
from botocore.exceptions import ClientError
from confluent_kafka import KafkaError
from elastic_transport import ApiResponseMeta, HttpHeaders

from consumer.detector import Blob, Detections
from pipeline_common.contracts import ModelInfo
from simple_frontend.store import _search_failed

# --- S3 -------------------------------------------------------------------------------


def client_error(code: str, status: int = 0, operation: str = "GetObject") -> ClientError:
    """What boto3 raises when S3 answers with an error (`status` 0: none in the answer)."""
    response = {"Error": {"Code": code, "Message": code}}
    if status:
        response["ResponseMetadata"] = {"HTTPStatusCode": status}
    return ClientError(response, operation)


class FakeBody:
    def __init__(self, data: bytes, short_by: int = 0):
        self._data = data[: len(data) - short_by] if short_by else data
        self.closed = False

    def read(self) -> bytes:
        return self._data

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeS3:
    """In-memory S3 (GET and PUT, any bucket) with optional scripted failures per call."""

    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)
    failures: list[Exception] = field(default_factory=list)  # raised by the next calls, in order
    puts: list[tuple[str, str, bytes]] = field(default_factory=list)
    short_read_by: int = 0

    def get_object(self, Bucket: str, Key: str):
        if self.failures:
            raise self.failures.pop(0)
        if (Bucket, Key) not in self.objects:
            raise client_error("NoSuchKey", 404)
        data = self.objects[(Bucket, Key)]
        return {"ContentLength": len(data), "Body": FakeBody(data, self.short_read_by)}

    def put_object(self, Bucket: str, Key: str, Body: bytes, ContentType: str):
        if self.failures:
            raise self.failures.pop(0)
        self.objects[(Bucket, Key)] = Body
        self.puts.append((Bucket, Key, Body))
        return {"ETag": '"x"'}


class PagedS3:
    """list_objects_v2 over a sorted key list, 3 keys a page, with StartAfter; each key's
    ETag (quoted, as S3 sends it) is its last six characters, its size its length."""

    def __init__(self, keys):
        self.keys = sorted(keys)

    def list_objects_v2(self, Bucket, Prefix, StartAfter=None, ContinuationToken=None):
        after = ContinuationToken or StartAfter  # the token stands for the last key returned
        keys = [k for k in self.keys if k.startswith(Prefix) and (after is None or k > after)]
        page, truncated = keys[:3], len(keys) > 3
        return {
            "Contents": [{"Key": k, "ETag": f'"{k[-6:]}"', "Size": len(k)} for k in page],
            "IsTruncated": truncated,
            **({"NextContinuationToken": page[-1]} if truncated else {}),
        }


class FakeImageBucket:
    """The handful of boto3 S3 calls the producer makes, over a dict of one bucket's objects."""

    def __init__(self, bucket: str = "bucket"):
        self.bucket = bucket
        self.objects: dict[str, dict] = {}
        self.puts: list[str] = []
        self.fail_puts_with: Exception | None = None

    def head_bucket(self, Bucket):
        if Bucket != self.bucket:
            raise client_error("404", 404, "HeadBucket")

    def head_object(self, Bucket, Key):
        if Key not in self.objects:
            raise client_error("404", 404, "HeadObject")
        item = self.objects[Key]
        return {"ContentLength": len(item["Body"]), "LastModified": item["LastModified"], "Metadata": item["Metadata"]}

    def put_object(self, Bucket, Key, Body, ContentType="", Metadata=None):
        if self.fail_puts_with is not None:
            raise self.fail_puts_with
        self.puts.append(Key)
        self.objects[Key] = {
            "Body": bytes(Body),
            "LastModified": datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
            "Metadata": dict(Metadata or {}),
        }

    def get_object(self, Bucket, Key):
        return {"Body": io.BytesIO(self.objects[Key]["Body"])}

    def get_paginator(self, name):
        assert name == "list_objects_v2"
        objects = self.objects

        class Paginator:
            def paginate(self, Bucket, Prefix):
                keys = sorted(k for k in objects if k.startswith(Prefix))
                # two pages, as S3 would send for a long listing
                half = len(keys) // 2
                for chunk in (keys[:half], keys[half:]):
                    yield {"Contents": [{"Key": k} for k in chunk]}

        return Paginator()


# --- Kafka ----------------------------------------------------------------------------


class FakeMessage:
    """A confluent_kafka.Message as the code reads it."""

    def __init__(
        self,
        value: bytes | None,
        offset: int,
        partition: int = 0,
        topic: str = "images",
        key: bytes | None = None,
        error=None,
    ):
        self._value, self._offset, self._partition, self._topic, self._key, self._error = (
            value,
            offset,
            partition,
            topic,
            key,
            error,
        )

    def value(self):
        return self._value

    def key(self):
        return self._key

    def offset(self):
        return self._offset

    def partition(self):
        return self._partition

    def topic(self):
        return self._topic

    def timestamp(self):
        return (1, 1_700_000_000_000)

    def error(self):
        return self._error


class FakeBatchConsumer:
    """A consumer subscribed to one topic that hands out the given batches, one per
    consume() (calling on_assign once before the first, with no partitions), then nothing,
    and `on_drained()` if given; `commits` holds each commit's (topic, partition, offset)s."""

    def __init__(self, batches, on_drained: Callable[[], None] | None = None):
        self.batches = [list(batch) for batch in batches]
        self.on_drained = on_drained
        self.commits: list[list[tuple[str, int, int]]] = []
        self.on_assign = None

    def subscribe(self, topics, on_assign=None, on_revoke=None, on_lost=None):
        self.on_assign = on_assign

    def consume(self, num_messages=1, timeout=-1):
        if self.on_assign is not None:
            self.on_assign(self, [])
            self.on_assign = None
        if not self.batches:
            if self.on_drained is not None:
                self.on_drained()
            return []
        return self.batches.pop(0)

    def commit(self, offsets=None, asynchronous=True):
        self.commits.append([(tp.topic, tp.partition, tp.offset) for tp in offsets])


class FakeProducer:
    """Queues messages like librdkafka and reports them from poll()/flush().

    `fail_with`: an error reported for every message (broker down), or for the first
    `failures` only when that is given.
    `produce_raises`: produce() raises it (a message too large for the client, ...).
    `stall`: never report anything (flush times out).
    `buffer_limit`: produce() raises BufferError while that many are queued.
    `topic_max_bytes`: what the topic takes (its max.message.bytes); a larger message is
    refused as the broker does (MSG_SIZE_TOO_LARGE), its value kept in `refused`.
    `attempts` counts produce() calls, `delivered` holds the messages acknowledged."""

    def __init__(
        self, fail_with=None, stall=False, buffer_limit=None, failures=None, produce_raises=None, topic_max_bytes=None
    ):
        self.fail_with = fail_with
        self.topic_max_bytes = topic_max_bytes
        self.refused: list[bytes] = []
        self.failures = failures
        self.produce_raises = produce_raises
        self.stall = stall
        self.buffer_limit = buffer_limit
        self.queued: list[tuple[FakeMessage, object]] = []
        self.delivered: list[FakeMessage] = []
        self.buffer_errors = 0
        self.attempts = 0

    def produce(self, topic, key=None, value=None, on_delivery=None):
        self.attempts += 1
        if self.produce_raises is not None:
            raise self.produce_raises
        if self.buffer_limit is not None and len(self.queued) >= self.buffer_limit:
            self.buffer_errors += 1
            raise BufferError("Local: Queue full")
        number = len(self.delivered)
        message = FakeMessage(value, offset=number, partition=number % 3, topic=topic, key=key)
        self.queued.append((message, on_delivery))

    def poll(self, timeout=0):
        # acknowledgements take a moment: poll(0) right after produce finds none yet
        if self.stall or not timeout:
            return 0
        served = 0
        while self.queued:
            message, callback = self.queued.pop(0)
            error = self._next_error()
            if self.topic_max_bytes is not None and len(message.value()) > self.topic_max_bytes:
                self.refused.append(message.value())
                error = KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)
            elif error is None:
                self.delivered.append(message)
            callback(error, message)
            served += 1
        return served

    def _next_error(self):
        if self.failures is None:
            return self.fail_with
        if self.failures > 0:
            self.failures -= 1
            return self.fail_with
        return None

    def flush(self, timeout=None):
        self.poll(timeout or 1)
        return len(self.queued)


# --- the detector ---------------------------------------------------------------------


class FakeDetector:
    """Finds one 'dog' covering the top-left quarter of any image."""

    model_info = ModelInfo(name="fake-yolo", input_size=416, confidence_threshold=0.25, nms_threshold=0.45)

    def __init__(self, fail_with: Exception | None = None):
        self.fail_with = fail_with
        self.calls = 0

    def prepare(self, image: np.ndarray) -> Blob:
        height, width = image.shape[:2]
        return Blob(image, width, height)

    def infer(self, blob: Blob) -> Detections:
        self.calls += 1
        if self.fail_with is not None:
            raise self.fail_with
        return Detections(
            boxes=[[0, 0, max(1, blob.width // 2), max(1, blob.height // 2)]],
            scores=[0.9],
            class_ids=[16],
            labels=("dog",),
        )

    def detect(self, image: np.ndarray) -> Detections:
        return self.infer(self.prepare(image))


# --- Elasticsearch (the dashboard's searches) -----------------------------------------

NodeResponse = namedtuple("NodeResponse", "meta body")  # what a node hands the transport


def node_response(config, status: int, payload: dict) -> NodeResponse:
    """An Elasticsearch node's answer (elastic_transport.BaseNode.perform_request):
    `status` with `payload` as JSON, from the node of `config`."""
    meta = ApiResponseMeta(
        status=status,
        http_version="1.1",
        duration=0.0,
        node=config,
        headers=HttpHeaders({"x-elastic-product": "Elasticsearch", "content-type": "application/json"}),
    )
    return NodeResponse(meta, json.dumps(payload).encode())


class FakeIndices:
    def __init__(self, client):
        self.client = client

    def exists(self, index):
        self.client.calls.append(("exists", index, {}))
        if self.client.error:
            raise self.client.error
        return self.client.index_exists


# A batch run far after every test's range: all of it is answered by the batch index.
FUTURE_RUN = "20990101T000000Z"


class FakeElasticsearch:
    """Answers the batch index (`index`) and the live indices (any name with `*`)."""

    def __init__(self):
        self.calls = []
        self.runs = [FUTURE_RUN]  # newest first, the same for every stored interval
        self.live_totals = []  # like label_totals, from the live indices
        self.live_timeline = {}  # like timeline_buckets
        self.live_values = []
        self.live_images = 0
        self.live_failure = None  # e.g. {"error": {...}, "status": 400}
        self.live_failures_left = None  # how many live searches get `live_failure` (None: all)
        self.closed = False
        self.error = None
        self.index_exists = True
        self.intervals = ["minute", "hour", "day"]
        self.label_totals = [("person", 7), ("car", 2)]
        self.timeline_buckets = {}  # label -> [(epoch millis, value)]
        self.values = ["car", "person"]
        self.extent = (1743465600000, 1743548400000)
        self.batch_runs = []  # run records, newest first

    def _batch_runs(self, body):
        """Run records matching the body's outcome filter, if any (newest first)."""
        wanted = [f["terms"]["outcome"] for f in body["query"]["bool"]["filter"] if "outcome" in f.get("terms", {})]
        hits = [r for r in self.batch_runs if (not wanted or r["outcome"] in wanted[0]) and r["outcome"] != "skipped"]
        return {"hits": {"hits": [{"_source": r} for r in hits[: body["size"]]]}}

    @property
    def indices(self):
        return FakeIndices(self)

    def close(self):
        self.closed = True

    def searches(self, live=False):
        """The count searches of the batch index (or, with live=True, of the live indices):
        not the look-ups of stored intervals, runs, extents and generations."""
        return [
            body
            for kind, index, body in self.calls
            if kind == "search" and not {"intervals", "oldest"} & set(body["aggs"]) and ("*" in index) == live
        ]

    def search(self, index, **body):
        self.calls.append(("search", index, body))
        if self.error:
            raise self.error
        if "aggs" not in body:
            return self._batch_runs(body)
        aggs = body["aggs"]
        if "*" in index:
            counting = not {"intervals", "oldest"} & set(aggs)  # not a look-up of the data's extent
            if counting and self.live_failure and self.live_failures_left != 0:
                if self.live_failures_left is not None:
                    self.live_failures_left -= 1
                raise _search_failed(self.live_failure, None)  # as the real client raises it
            return self._live(aggs)
        return self._answer(aggs, self.label_totals, self.timeline_buckets, self.values)

    def msearch(self, searches):
        """Each (header, body) pair searched as on its own; `live_failure` is the live
        search's answer instead (msearch reports a failed search in its answer)."""
        self.calls.append(("msearch", None, {}))
        if self.error:
            raise self.error
        answers = []
        for header, body in zip(searches[::2], searches[1::2], strict=True):
            if "*" in header["index"] and self.live_failure and self.live_failures_left != 0:
                self.calls.append(("search", header["index"], body))
                answers.append(self.live_failure)
                if self.live_failures_left is not None:
                    self.live_failures_left -= 1
            else:
                answers.append(self.search(index=header["index"], **body))
        return {"responses": answers}

    def _live(self, aggs):
        if "oldest" in aggs:
            return {
                "hits": {"total": {"value": self.live_images}},
                "aggregations": {"oldest": {"value": None}, "newest": {"value": None}},
            }
        inner = self._answer(aggs["live"]["aggs"]["in"]["aggs"], self.live_totals, self.live_timeline, self.live_values)
        return {"aggregations": {"live": {"in": inner["aggregations"]}}}

    def _answer(self, aggs, label_totals, timeline_buckets, values):
        if "oldest" in aggs:
            return {
                "hits": {"total": {"value": 42}},
                "aggregations": {
                    "oldest": {"value": self.extent[0]},
                    "newest": {"value": self.extent[1]},
                    "intervals": {"buckets": [{"key": i} for i in self.intervals]},
                },
            }
        if "intervals" in aggs:
            runs = {"buckets": [{"key": run} for run in self.runs]}
            return {"aggregations": {"intervals": {"buckets": [{"key": i, "runs": runs} for i in self.intervals]}}}
        if "values" in aggs:
            return {"aggregations": {"values": {"buckets": [{"key": v} for v in values]}}}
        buckets = []
        for label, count in label_totals:
            bucket = {"key": label, "count": {"value": float(count)}}
            if "timeline" in aggs["labels"]["aggs"]:
                points = timeline_buckets.get(label, [])
                bucket["timeline"] = {"buckets": [{"key": k, "count": {"value": float(v)}} for k, v in points]}
            buckets.append(bucket)
        total = sum(count for _, count in label_totals)
        return {
            "aggregations": {"labels": {"sum_other_doc_count": 0, "buckets": buckets}, "total": {"value": float(total)}}
        }
