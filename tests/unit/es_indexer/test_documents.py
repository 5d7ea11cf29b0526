"""The indexer's pure pieces: ids, documents, actions, mapping checks, line parsing."""

import hashlib
import json
from datetime import datetime, timezone

import pytest
from elasticsearch.helpers import expand_action

from es_indexer.documents import FIELD_TYPES, INDEX_BODY, actions, document_id, encoded_actions, mapping_problems
from es_indexer.reading import SkippedLine, parse_lines
from es_indexer.settings import IndexerSettings
from pipeline_common.contracts import Aggregate, ContractError, CountDocument, Interval
from pipeline_common.environment import SettingsError

HOUR = datetime(2026, 11, 28, 10, tzinfo=timezone.utc)
NOW = datetime(2026, 11, 28, 12, 30, tzinfo=timezone.utc)


def aggregate(label="person", source="front-door", interval=Interval.HOUR, start=HOUR, d=3, i=2):
    return Aggregate(label, source, interval, start, d, i)


def test_id_depends_on_the_bucket_not_the_counts():
    assert document_id(aggregate(d=3, i=2)) == document_id(aggregate(d=7, i=5))
    assert len(document_id(aggregate())) == 40  # sha1 hex


@pytest.mark.parametrize(
    "other",
    [
        aggregate(label="car"),
        aggregate(source="parking"),
        aggregate(interval=Interval.DAY),
        aggregate(start=datetime(2026, 11, 28, 11, tzinfo=timezone.utc)),
    ],
)
def test_id_differs_for_another_bucket(other):
    assert document_id(other) != document_id(aggregate())


def test_joined_fields_do_not_collide():
    assert document_id(aggregate(label="a b", source="c")) != document_id(aggregate(label="a", source="b c"))


def test_id_ignores_how_the_time_zone_was_written():
    same_moment = datetime.fromisoformat("2026-11-28T11:00:00+01:00")
    assert document_id(aggregate(start=same_moment)) == document_id(aggregate())


def test_actions_carry_the_id_and_every_mapped_field():
    (action,) = actions([aggregate()], "counts", "20261128T120000Z", NOW)
    assert action["_op_type"] == "index"
    assert action["_index"] == "counts"
    assert action["_id"] == document_id(aggregate())
    assert action["_source"] == {
        "label": "person",
        "source": "front-door",
        "interval": "hour",
        "bucket_start": "2026-11-28T10:00:00.000Z",
        "detections": 3,
        "images": 2,
        "run_id": "20261128T120000Z",
        "indexed_at": "2026-11-28T12:30:00.000Z",
    }
    assert set(action["_source"]) == set(FIELD_TYPES)


@pytest.mark.parametrize(
    "label, source",
    [("person", "front-door"), ('say "hi"', "back\\slash"), ("tab\there", "line\nbreak\x01"), ("café", "カメラ")],
)
def test_ids_are_the_sha1_of_the_compact_json_key(label, source):
    # the ids of every earlier run: a changed id would duplicate a bucket instead of replacing it
    key = json.dumps([label, source, "hour", "2026-11-28T10:00:00.000Z"], ensure_ascii=False, separators=(",", ":"))
    assert document_id(aggregate(label=label, source=source)) == hashlib.sha1(key.encode("utf-8")).hexdigest()


@pytest.mark.parametrize(
    "item",
    [
        aggregate(),
        aggregate(label="café", source="カメラ", interval=Interval.MINUTE, d=0, i=0),
        aggregate(start=datetime.fromisoformat("2026-11-28T11:00:00+01:00"), interval=Interval.DAY, d=2**63 - 1),
    ],
)
def test_documents_are_the_count_document_contract(item):
    (action,) = actions([item], "counts", "20261128T120000Z", NOW)
    assert action["_source"] == CountDocument.of(item, "20261128T120000Z", NOW).to_source()
    assert list(action["_source"]) == list(FIELD_TYPES)  # in the declared order
    ((line, source),) = encoded_actions([item], "counts", "20261128T120000Z", NOW)
    assert (line, json.loads(source)) == expand_action(action)  # what the bulk helper would send


def test_a_bad_run_id_is_refused_before_any_document():
    with pytest.raises(ContractError, match="run_id"):
        list(actions([aggregate()], "counts", 20261128, NOW))


def test_mapping_is_explicit_and_strict():
    mappings = INDEX_BODY["mappings"]
    assert mappings["dynamic"] == "strict"
    assert {name: spec["type"] for name, spec in mappings["properties"].items()} == {
        "label": "keyword",
        "source": "keyword",
        "interval": "keyword",
        "bucket_start": "date",
        "detections": "long",
        "images": "long",
        "run_id": "keyword",
        "indexed_at": "date",
    }
    assert mapping_problems(mappings["properties"]) == []


def test_mapping_problems_name_the_field():
    properties = dict(INDEX_BODY["mappings"]["properties"], label={"type": "text"})
    del properties["images"]
    assert mapping_problems(properties) == [
        "label: expected keyword, found text",
        "images: expected long, found nothing",
    ]


def test_parse_lines_reports_bad_lines_with_key_and_number():
    good = aggregate().to_line()
    lines = [
        ("run/part-00000", 1, good.encode()),
        ("run/part-00000", 2, b"{not json"),
        ("run/part-00000", 3, b"   "),
        ("run/part-00001", 1, aggregate(label="car").to_line().encode()),
        ("run/part-00001", 2, b'{"schema_version": 1, "label": "x"}'),
        ("run/part-00001", 3, aggregate(d=9, i=9).to_line().encode()),  # same bucket again
        ("run/part-00001", 4, b"null\tfoo"),
    ]
    skipped: list[SkippedLine] = []
    parsed = list(parse_lines(lines, skipped))
    assert [a.label for a in parsed] == ["person", "car"]
    assert [(s.key, s.line_number) for s in skipped] == [
        ("run/part-00000", 2),
        ("run/part-00001", 2),
        ("run/part-00001", 3),
        ("run/part-00001", 4),
    ]
    assert "not valid JSON" in skipped[0].reason
    assert "duplicate of the aggregate at run/part-00000:1" in skipped[2].reason
    assert str(skipped[0]).startswith("run/part-00000:2: ")


def test_parse_lines_reports_lines_that_once_crashed_the_indexer_and_goes_on():
    good = aggregate().to_line()
    bad = {
        "bucket_start overflows in UTC": good.replace("2026-11-28T10:00:00.000Z", "9999-12-31T23:59:59-01:00"),
        "count over the int conversion limit": good.replace('"detections":3', '"detections":' + "9" * 5000),
        "deep nesting": "[" * 100_000 + "]" * 100_000,
        "not UTF-8": b'{"label": "caf\xe9"}',
        "count above a long": good.replace('"detections":3', f'"detections":{2**63}'),
    }
    lines = [("run/part-00000", number, text) for number, text in enumerate(bad.values(), start=1)]
    lines.append(("run/part-00000", len(bad) + 1, good.encode()))
    skipped: list[SkippedLine] = []
    parsed = list(parse_lines(lines, skipped))
    assert parsed == [aggregate()]
    assert [(s.key, s.line_number) for s in skipped] == [("run/part-00000", n) for n in range(1, len(bad) + 1)]


ENV = {"S3_ACCESS_KEY": "k", "S3_SECRET_KEY": "s", "INDEXER_ES_USERNAME": "batch-indexer", "INDEXER_ES_PASSWORD": "p"}


def test_settings_defaults_and_overrides():
    settings = IndexerSettings.from_env(ENV)
    assert settings.es.index == "hadoop-object-counts-v1"
    assert settings.run_id is None and settings.prune and not settings.allow_older
    settings = IndexerSettings.from_env(dict(ENV, ES_INDEX="from-env"), es={"index": "from-cli"}, prune=False)
    assert settings.es.index == "from-cli" and not settings.prune


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(es={"index": "Upper"}), "index name"),
        (dict(es={"index": "a/b"}), "index name"),
        (dict(es={"index": "*"}), "index name"),
        (dict(es={"index": "-x"}), "index name"),
        (dict(run_id="latest"), "run id"),
        (dict(output_prefix="out"), "prefix"),
        (dict(chunk_size=-5), "chunk size"),
        (dict(chunk_size=0), "chunk size"),
    ],
)
def test_bad_settings_are_refused(overrides, message):
    with pytest.raises(SettingsError, match=message):
        IndexerSettings.from_env(ENV, **overrides)
