"""A simple fake Elasticsearch client for the Flask route tests: it records the
requests and answers each kind of body with a canned answer."""
from datetime import datetime, timezone

import pytest

from pipeline_common.settings import FrontendElasticsearchSettings
from simple_frontend.app import create_app
from simple_frontend.settings import FrontendSettings

NOW = datetime(2025, 4, 14, 9, 30, tzinfo=timezone.utc)


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
        """The count searches of the batch index (or, with live=True, of the live indices)."""
        return [body for kind, index, body in self.calls
                if kind == "search" and "intervals" not in body["aggs"] and ("*" in index) == live]

    def search(self, index, **body):
        self.calls.append(("search", index, body))
        if self.error:
            raise self.error
        if "aggs" not in body:
            return self._batch_runs(body)
        aggs = body["aggs"]
        if "*" in index:
            return self._live(aggs)
        return self._answer(aggs, self.label_totals, self.timeline_buckets, self.values)

    def msearch(self, searches):
        """Each (header, body) pair searched as on its own; `live_failure` is the live
        search's answer instead (msearch reports a failed search in its answer)."""
        self.calls.append(("msearch", None, {}))
        if self.error:
            raise self.error
        answers = []
        for header, body in zip(searches[::2], searches[1::2]):
            if "*" in header["index"] and self.live_failure:
                self.calls.append(("search", header["index"], body))
                answers.append(self.live_failure)
            else:
                answers.append(self.search(index=header["index"], **body))
        return {"responses": answers}

    def _live(self, aggs):
        if "oldest" in aggs:
            return {"hits": {"total": {"value": self.live_images}},
                    "aggregations": {"oldest": {"value": None}, "newest": {"value": None}}}
        inner = self._answer(aggs["live"]["aggs"]["in"]["aggs"], self.live_totals, self.live_timeline,
                             self.live_values)
        return {"aggregations": {"live": {"in": inner["aggregations"]}}}

    def _answer(self, aggs, label_totals, timeline_buckets, values):
        if "oldest" in aggs:
            return {"hits": {"total": {"value": 42}}, "aggregations": {
                "oldest": {"value": self.extent[0]}, "newest": {"value": self.extent[1]},
                "intervals": {"buckets": [{"key": i} for i in self.intervals]}}}
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
                bucket["timeline"] = {"buckets": [
                    {"key": k, "count": {"value": float(v)}} for k, v in points]}
            buckets.append(bucket)
        total = sum(count for _, count in label_totals)
        return {"aggregations": {"labels": {"sum_other_doc_count": 0, "buckets": buckets},
                                 "total": {"value": float(total)}}}


@pytest.fixture
def fake_es():
    return FakeElasticsearch()


@pytest.fixture
def settings():
    return FrontendSettings(
        elasticsearch=FrontendElasticsearchSettings(url="http://127.0.0.1:1", username="api", password="unused"),
        max_buckets=2000,
    )


@pytest.fixture
def app(fake_es, settings):
    return create_app({"FRONTEND_SETTINGS": settings, "ES_CLIENT": fake_es, "CLOCK": lambda: NOW,
                       "ES_INDEX": "counts-test"})


@pytest.fixture
def client(app):
    return app.test_client()
