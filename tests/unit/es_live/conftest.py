"""Fakes for the live indexer's unit tests: an Elasticsearch node that keeps documents
in memory and fails on cue (the producer of dead letters is tests.support.fakes')."""

from __future__ import annotations

import fnmatch
import json
from datetime import datetime, timezone

import pytest
from elastic_transport import BaseNode, ConnectionError as TransportConnectionError
from elasticsearch import Elasticsearch

from pipeline_common.contracts import DetectionEvent, serialize_detection_event
from tests.support import fakes

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


class MemoryNode(BaseNode):
    """`indices`: name -> {id: source}. `script`: what the next bulk requests meet:
    "down" (connection refused), a status for the whole request (e.g. 503), or
    {image_id: status} for single documents; then everything succeeds."""

    indices: dict = {}
    script: list = []
    bulks: list = []
    on_bulk = None  # called before each bulk request is answered

    def perform_request(self, method, target, body=None, headers=None, request_timeout=None):
        path = target.split("?")[0]
        if path == "/_bulk":
            return self._bulk(body)
        if method == "GET":
            pattern = path.strip("/")
            return self._reply(200, {name: {} for name in self.indices if fnmatch.fnmatch(name, pattern)})
        if method == "DELETE":
            MemoryNode.indices.pop(path.strip("/"), None)
            return self._reply(200, {"acknowledged": True})
        return self._reply(200, {"acknowledged": True})

    def _bulk(self, body):
        lines = [json.loads(line) for line in body.decode().splitlines() if line]
        pairs = list(zip(lines[::2], lines[1::2], strict=True))
        MemoryNode.bulks.append([header["index"]["_id"] for header, _ in pairs])
        if MemoryNode.on_bulk is not None:
            MemoryNode.on_bulk()
        step = MemoryNode.script.pop(0) if MemoryNode.script else {}
        if step == "down":
            raise TransportConnectionError("connection refused")
        if isinstance(step, int):
            return self._reply(step, {"error": {"type": "unavailable", "reason": "busy"}, "status": step})
        items = []
        for header, source in pairs:
            index, doc_id = header["index"]["_index"], header["index"]["_id"]
            status = step.get(doc_id)
            if status is None:
                docs = MemoryNode.indices.setdefault(index, {})
                status = 200 if doc_id in docs else 201
                docs[doc_id] = source
            item = {"_index": index, "_id": doc_id, "status": status}
            if status < 300:
                item["result"] = "created" if status == 201 else "updated"
            else:
                item["error"] = {"type": "document_parsing_exception", "reason": f"status {status}"}
            items.append({"index": item})
        return self._reply(200, {"took": 1, "errors": any("error" in i["index"] for i in items), "items": items})

    def _reply(self, status, payload):
        return fakes.node_response(self.config, status, payload)


@pytest.fixture
def memory_es():
    MemoryNode.indices, MemoryNode.script, MemoryNode.bulks, MemoryNode.on_bulk = {}, [], [], None
    client = Elasticsearch("http://fake:9200", node_class=MemoryNode, max_retries=0)
    yield client
    client.close()


class FakeMessage(fakes.FakeMessage):
    def __init__(self, value, offset, partition=0, topic="detections", key=None, error=None):
        super().__init__(value, offset, partition, topic, key, error)


def event_bytes(image: int, captured: datetime = NOW, **counts) -> bytes:
    return serialize_detection_event(
        DetectionEvent(f"{image:032x}", "cam-1", captured, captured, "yolov4-tiny", counts or {"dog": 1})
    )
