"""bulk_index against a scripted fake node: retries on 429/5xx, per-document failures."""

import json
from datetime import datetime, timezone

import pytest
from elastic_transport import BaseNode
from elasticsearch import Elasticsearch

from es_indexer.documents import actions, encoded_actions
from es_indexer.index import bulk_index
from pipeline_common.contracts import Aggregate, Interval
from tests.support import fakes

HOUR = datetime(2026, 11, 28, 10, tzinfo=timezone.utc)


class ScriptedNode(BaseNode):
    """Answers each bulk request with the next scripted reply: a status and, per
    document of the request, an item status (or None for a whole-request error)."""

    script: list = []
    requests: list = []

    def perform_request(self, method, target, body=None, headers=None, request_timeout=None):
        lines = [json.loads(line) for line in body.decode().splitlines() if line]
        headers_of = [line for line in lines if "index" in line]
        ScriptedNode.requests.append([h["index"]["_id"] for h in headers_of])
        status, item_statuses = ScriptedNode.script.pop(0)
        if item_statuses is None:
            payload = {"error": {"type": "unavailable", "reason": "try later"}, "status": status}
        else:
            items = []
            for header, item_status in zip(headers_of, item_statuses, strict=False):
                item = {"_id": header["index"]["_id"], "status": item_status}
                if item_status in (200, 201):
                    item["result"] = "created" if item_status == 201 else "updated"
                else:
                    item["error"] = {"type": "rejected", "reason": f"status {item_status}"}
                items.append({"index": item})
            payload = {"took": 1, "errors": any(s >= 300 for s in item_statuses), "items": items}
        return fakes.node_response(self.config, status, payload)


def client(script):
    ScriptedNode.script, ScriptedNode.requests = list(script), []
    return Elasticsearch("http://fake:9200", node_class=ScriptedNode, max_retries=0)


@pytest.fixture(params=["dicts", "encoded"])
def docs(request):
    """n actions: as dicts, or as the (action line, JSON bytes) pairs the indexer sends."""

    def make(n):
        aggregates = [Aggregate(f"label{k}", "cam", Interval.HOUR, HOUR, 2, 1) for k in range(n)]
        make_actions = encoded_actions if request.param == "encoded" else actions
        return list(make_actions(aggregates, "counts", "20261128T120000Z", HOUR))

    return make


def id_of(action):
    return action[0]["index"]["_id"] if isinstance(action, tuple) else action["_id"]


def test_rejected_documents_are_retried_until_accepted(docs):
    es = client([(200, [201, 429, 201]), (200, [200])])
    outcome = bulk_index(es, docs(3), initial_backoff=0.01)
    assert (outcome.created, outcome.updated, outcome.failed) == (2, 1, 0)
    first, retry = ScriptedNode.requests
    assert retry == [first[1]]  # only the rejected document is sent again


def test_a_failing_request_is_retried_as_a_whole(docs):
    es = client([(503, None), (200, [201, 201])])
    outcome = bulk_index(es, docs(2), initial_backoff=0.01)
    assert (outcome.created, outcome.failed) == (2, 0)
    assert ScriptedNode.requests[0] == ScriptedNode.requests[1]


def test_failures_are_reported_document_by_document(docs):
    es = client([(200, [201, 400, 201]), (200, [201, 201])])
    outcome = bulk_index(es, docs(5), chunk_size=3, initial_backoff=0.01)
    assert (outcome.created, outcome.failed) == (4, 1)  # the run went on after the failure
    (failure,) = outcome.failures
    assert failure.startswith(id_of(docs(5)[1])) and "status 400" in failure


def test_a_request_failing_for_good_fails_each_of_its_documents(docs):
    es = client([(503, None)] * 3)
    outcome = bulk_index(es, docs(2), max_retries=2, initial_backoff=0.01)
    assert (outcome.created, outcome.failed) == (0, 2)
    assert [failure.split(":")[0] for failure in outcome.failures] == [id_of(d) for d in docs(2)]


def test_retries_give_up_after_max_retries(docs):
    es = client([(200, [429])] * 3)
    outcome = bulk_index(es, docs(1), max_retries=2, initial_backoff=0.01)
    assert (outcome.created, outcome.failed) == (0, 1)
    assert len(ScriptedNode.requests) == 3
