"""Alert rules and alerts: checks, ids, which buckets new images touch (no services)."""

from datetime import datetime, timezone

import pytest

from es_live.alerts import count_body, touched
from pipeline_common.contracts import ContractError, DetectionEvent
from pipeline_common.contracts.alerts import Alert, rule, rule_from_source
from pipeline_common.contracts.live_index import document

UTC = timezone.utc
AT = datetime(2025, 4, 14, 9, 30, 42, tzinfo=UTC)


def live(source: str, moment: datetime, **counts) -> dict:
    return document(DetectionEvent("a" * 32, source, moment, moment, "yolov4-tiny", counts), moment)


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"label": "", "source": "*", "interval": "minute", "above": 1}, "label"),
        ({"label": "person*", "source": "*", "interval": "minute", "above": 1}, "label"),
        ({"label": "person", "source": "cam a OR *", "interval": "minute", "above": 1}, "source"),
        ({"label": "person", "source": "*", "interval": "week", "above": 1}, "interval"),
        ({"label": "person", "source": "*", "interval": "minute", "above": -1}, "above"),
        ({"label": "person", "source": "*", "interval": "minute", "above": "3"}, "above"),
        ({"label": "person", "source": "*", "interval": "minute", "above": True}, "above"),
        ({"label": "person", "source": "*", "interval": "minute", "above": 10**19}, "above"),  # beyond a long
        ({"label": "p" * 1001, "source": "*", "interval": "minute", "above": 1}, "label"),
        ({"label": "person", "source": '{"match_all": {}}', "interval": "minute", "above": 1}, "source"),
        ({"label": "<img src=x onerror=alert(1)>", "source": "*", "interval": "minute", "above": 1}, "label"),
        ({"label": None, "source": "*", "interval": "minute", "above": 1}, "label"),
        ({"label": "person", "source": ["cam-a"], "interval": "minute", "above": 1}, "source"),
        ({"label": "person", "source": "*", "interval": None, "above": 1}, "interval"),
    ],
)
def test_a_malformed_rule_is_refused_naming_its_field(fields, field):
    with pytest.raises(ContractError) as refused:
        rule(**fields)
    assert refused.value.field == field


def test_the_same_rule_has_the_same_id_and_reads_back():
    made = rule("traffic light", "front door (2)", "hour", 5)
    assert made.rule_id == rule("traffic light", "front door (2)", "hour", 5).rule_id
    assert made.rule_id != rule("traffic light", "front door (2)", "hour", 6).rule_id
    assert rule_from_source(made.to_source(AT)) == made
    assert made.describe() == "traffic light at front door (2) above 5 per hour"


def test_an_alert_is_one_per_rule_and_bucket():
    made = rule("person", "*", "minute", 3)
    bucket = datetime(2025, 4, 14, 9, 30, tzinfo=UTC)
    assert Alert(made, bucket, 4).alert_id == Alert(made, bucket, 9).alert_id
    assert Alert(made, bucket, 4).alert_id != Alert(made, bucket.replace(minute=31), 4).alert_id


def test_new_images_touch_the_buckets_of_the_rules_they_match():
    per_minute = rule("person", "cam-a", "minute", 3)
    anywhere_hourly = rule("person", "*", "hour", 10)
    dogs = rule("dog", "cam-a", "minute", 0)
    found = touched(
        [per_minute, anywhere_hourly, dogs], [live("cam-a", AT, person=2), live("cam-b", AT, person=1, car=1)]
    )
    assert found == {
        (per_minute, datetime(2025, 4, 14, 9, 30, tzinfo=UTC)),
        (anywhere_hourly, datetime(2025, 4, 14, 9, tzinfo=UTC)),
    }


def test_the_count_of_a_bucket_reads_only_its_label_source_and_time():
    body = count_body(rule("person", "cam-a", "minute", 3), datetime(2025, 4, 14, 9, 30, tzinfo=UTC))
    inner = body["aggs"]["live"]["aggs"]["in"]["filter"]["bool"]["filter"]
    assert {"term": {"counts.label": "person"}} in inner and {"term": {"counts.source": "cam-a"}} in inner
    assert {
        "range": {"counts.captured_at": {"gte": "2025-04-14T09:30:00.000Z", "lt": "2025-04-14T09:31:00.000Z"}}
    } in inner
    anywhere = count_body(rule("person", "*", "day", 3), datetime(2025, 4, 14, tzinfo=UTC))
    assert not any(
        "counts.source" in str(clause) for clause in anywhere["aggs"]["live"]["aggs"]["in"]["filter"]["bool"]["filter"]
    )


@pytest.mark.parametrize("bad", ["../_all", "*", "0123456789abcdef012", "0123456789ABCDEF0123", "x" * 5000])
def test_removing_a_rule_takes_only_a_rule_id(bad, capsys):
    from es_live.alerts import main

    with pytest.raises(SystemExit) as refused:
        main(["remove", bad])
    assert refused.value.code == 2 and "expected 20 hexadecimal digits" in capsys.readouterr().err
