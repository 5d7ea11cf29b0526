"""Validation of the API's parameters: every bad value is refused with a message that
says what was expected and what arrived."""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from pipeline_common.contracts import Aggregate, ContractError, ImageAnnouncement, Interval
from simple_frontend.params import (
    ParamError,
    TimeRange,
    bucket_count,
    bucket_keys,
    check_bucket_count,
    parse_interval,
    parse_metric,
    parse_name,
    parse_names,
    parse_query,
    parse_range,
    parse_time,
    parse_top,
)
from tests.support.records import announcement

NOW = datetime(2025, 4, 14, 9, 30, 15, 123456, tzinfo=timezone.utc)
UTC = timezone.utc


@pytest.mark.parametrize(
    "text, expected",
    [
        ("now", datetime(2025, 4, 14, 9, 30, 15, 123000, tzinfo=UTC)),
        ("now-15m", datetime(2025, 4, 14, 9, 15, 15, 123000, tzinfo=UTC)),
        ("now-24h", datetime(2025, 4, 13, 9, 30, 15, 123000, tzinfo=UTC)),
        ("now-7d", datetime(2025, 4, 7, 9, 30, 15, 123000, tzinfo=UTC)),
        ("now-2w", datetime(2025, 3, 31, 9, 30, 15, 123000, tzinfo=UTC)),
        ("2025-04-01", datetime(2025, 4, 1, tzinfo=UTC)),
        ("2025-04-01T10:00", datetime(2025, 4, 1, 10, tzinfo=UTC)),
        ("2025-04-01T10:00:05Z", datetime(2025, 4, 1, 10, 0, 5, tzinfo=UTC)),
        ("2025-04-01T10:00:05.5Z", datetime(2025, 4, 1, 10, 0, 5, 500000, tzinfo=UTC)),
        ("2025-04-01T10:00:05.123999Z", datetime(2025, 4, 1, 10, 0, 5, 123000, tzinfo=UTC)),
        # another zone is converted to UTC; no zone at all is taken as UTC
        ("2025-04-01T12:00:00+02:00", datetime(2025, 4, 1, 10, tzinfo=UTC)),
        ("2025-04-01T10:00:00", datetime(2025, 4, 1, 10, tzinfo=UTC)),
    ],
)
def test_times_accepted(text, expected):
    moment = parse_time(text, NOW, "from")
    assert moment == expected
    assert moment.tzinfo is not None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "now-",
        "now-5",
        "now-5y",
        "now-5M",
        "now+1h",
        "now-1h/h",
        " now",
        "now ",
        "now-1234567d",
        "2025-13-01",
        "2025-02-30T00:00:00Z",
        "2025-04-01T25:00:00Z",
        "2025-4-1",
        "20250401",
        "2025-04-01 10:00:00",
        "2025-04-01T10:00:00+0200",
        "1744000000",
        "now-1d OR *",
        "*",
        '{"match_all": {}}',
        "２０２５-04-01",
        "2025-04-01T10:00:00Z<script>",
    ],
)
def test_times_refused(text):
    with pytest.raises(ParamError) as error:
        parse_time(text, NOW, "from")
    message = str(error.value)
    assert message.startswith("from:")
    assert "now-24h" in message or "not a real date" in message or "before year 1" in message


@pytest.mark.parametrize(
    "args, fragment",
    [
        ({"from": ["0001-01-01T00:00:00+01:00"]}, "outside the years 1 to 9999"),
        ({"to": ["9999-12-31T23:59:59-01:00"]}, "outside the years 1 to 9999"),
        (
            {"from": ["0001-01-01"], "to": ["9999-12-31T23:59:59Z"], "interval": ["day"]},
            "before the last day of year 9999",
        ),
    ],
)
def test_times_at_the_ends_of_the_calendar(args, fragment):
    with pytest.raises(ParamError, match=fragment):
        parse_query(args, allowed=ALL, now=NOW, max_buckets=10**9)


def test_relative_time_before_year_one_is_refused():
    with pytest.raises(ParamError, match="before year 1"):
        parse_time("now-999999w", NOW, "from")


def test_range_defaults_to_the_last_24_hours():
    time_range = parse_range(None, None, NOW)
    assert time_range.end - time_range.start == timedelta(hours=24)
    assert time_range.end == NOW.replace(microsecond=123000)


def test_range_without_defaults_may_be_open():
    assert parse_range(None, None, NOW, defaults=False) is None


@pytest.mark.parametrize("start, end", [("now", "now-1h"), ("now", "now"), ("2025-04-02", "2025-04-01")])
def test_range_must_go_forward(start, end):
    with pytest.raises(ParamError, match="from must be earlier than to"):
        parse_range(start, end, NOW)


@pytest.mark.parametrize("text, expected", [(None, None), ("minute", Interval.MINUTE), ("day", Interval.DAY)])
def test_interval_accepted(text, expected):
    assert parse_interval(text) is expected


@pytest.mark.parametrize("text", ["", "Hour", "week", "1h", "hour ", "*"])
def test_interval_refused(text):
    with pytest.raises(ParamError, match=r"interval: expected one of minute, hour, day; got"):
        parse_interval(text)


def range_of(start: str, end: str) -> TimeRange:
    return TimeRange(parse_time(start, NOW, "from"), parse_time(end, NOW, "to"))


@pytest.mark.parametrize(
    "start, end, interval, count",
    [
        ("2025-04-01T00:00:00Z", "2025-04-02T00:00:00Z", Interval.HOUR, 24),
        ("2025-04-01T00:00:00Z", "2025-04-02T00:00:00Z", Interval.DAY, 1),
        ("2025-04-01T00:00:00Z", "2025-04-02T00:00:00.001Z", Interval.DAY, 2),
        ("2025-04-01T00:30:00Z", "2025-04-01T02:10:00Z", Interval.HOUR, 3),
        ("2025-04-01T00:00:00Z", "2025-04-01T00:00:00.001Z", Interval.MINUTE, 1),
        ("2025-04-01T23:59:00Z", "2025-04-02T00:01:00Z", Interval.MINUTE, 2),
    ],
)
def test_bucket_count_matches_the_keys(start, end, interval, count):
    time_range = range_of(start, end)
    assert bucket_count(time_range, interval) == count
    keys = bucket_keys(time_range, interval)
    assert len(keys) == count
    assert keys[0] <= time_range.start < keys[0] + interval.length
    assert keys[-1] < time_range.end <= keys[-1] + interval.length


def test_bucket_cap():
    day = range_of("2025-04-01T00:00:00Z", "2025-04-02T00:00:00Z")
    check_bucket_count(day, Interval.MINUTE, 1440)
    with pytest.raises(ParamError, match="holds 1440 minute buckets; at most 1439 are allowed"):
        check_bucket_count(day, Interval.MINUTE, 1439)


@pytest.mark.parametrize(
    "interval, advice",
    [
        (Interval.MINUTE, "choose a coarser interval or a shorter range"),
        (Interval.HOUR, "choose a coarser interval or a shorter range"),
        (Interval.DAY, "choose a shorter range (day is the coarsest interval)"),
    ],
)
def test_a_range_over_the_cap_says_what_to_change(interval, advice):
    """The times as the answers write them; no coarser interval suggested where none exists."""
    years = range_of("2015-04-15T00:00:00Z", "2025-04-15T00:00:00Z")
    with pytest.raises(ParamError) as refused:
        check_bucket_count(years, interval, 10)
    assert str(refused.value).startswith("the range from 2015-04-15T00:00:00.000Z to 2025-04-15T00:00:00.000Z holds ")
    assert str(refused.value).endswith(f"; at most 10 are allowed: {advice}")


@pytest.mark.parametrize(
    "text",
    [
        "person",
        "traffic light",
        "cell phone",
        "cam-01",
        "front door (2)",
        "Café",
        "a OR b",
        "x",
        "a.b/c:d",
        "7",
        # a camera's folder may be named anything; each is only ever an exact term value
        " cam",
        "cam ",
        "*",
        "cam*",
        "pers?n",
        '"quoted"',
        "back\\slash",
        '{"match_all": {}}',
        "label:[* TO *]",
        "a;b",
        "-cam",
        "<script>",
        "Kamera Süd – Tor",
        "📷 garden",
        "x" * 1000,
    ],
)
def test_every_name_the_api_can_list_is_accepted(text):
    assert parse_name(text, "source") == text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30) | st.text(min_size=995, max_size=1005) | st.sampled_from(["", " ", "\t", "x" * 1001]))
def test_every_name_a_count_can_carry_is_a_filter_the_api_accepts(text):
    # what the index holds comes from aggregate lines (batch) and announcements (live)
    for make in (
        lambda: Aggregate(text, text, Interval.HOUR, NOW.replace(minute=0, second=0, microsecond=0), 1, 1),
        lambda: ImageAnnouncement.from_dict(dict(announcement("ab" * 16, "image-pipeline").to_dict(), source=text)),
    ):
        try:
            make()
        except ContractError:
            continue
        assert parse_name(text, "source") == text
        assert parse_name(text, "label") == text


@pytest.mark.parametrize("text, words", [("", "got an empty value"), ("x" * 1001, "at most 1000 characters")])
def test_names_refused(text, words):
    with pytest.raises(ParamError, match=rf"^label: .*{words}"):
        parse_name(text, "label")


def test_names_are_deduplicated_in_order_and_bounded():
    assert parse_names(["car", "person", "car"], "label") == ("car", "person")
    with pytest.raises(ParamError, match="at most 20 values; got 21"):
        parse_names([f"l{i}" for i in range(21)], "label")


@pytest.mark.parametrize("text, expected", [(None, 10), ("1", 1), ("50", 50), ("07", 7)])
def test_top_accepted(text, expected):
    assert parse_top(text) == expected


@pytest.mark.parametrize("text", ["0", "51", "-1", "1.5", "ten", "", "1e1", "9999"])
def test_top_refused(text):
    with pytest.raises(ParamError, match="n: expected a whole number from 1 to 50"):
        parse_top(text)


@pytest.mark.parametrize("text, expected", [(None, "detections"), ("images", "images")])
def test_metric(text, expected):
    assert parse_metric(text) == expected


def test_metric_refused():
    with pytest.raises(ParamError, match="metric: expected one of detections, images; got 'score'"):
        parse_metric("score")


ALL = frozenset({"from", "to", "label", "source", "interval", "metric", "n"})


def test_query_collects_everything():
    query = parse_query(
        {
            "from": ["now-1h"],
            "to": ["now"],
            "label": ["car", "person"],
            "source": ["cam1"],
            "interval": ["minute"],
            "metric": ["images"],
            "n": ["5"],
        },
        allowed=ALL,
        now=NOW,
        max_buckets=2000,
    )
    assert query.labels == ("car", "person")
    assert query.sources == ("cam1",)
    assert query.interval is Interval.MINUTE
    assert query.metric == "images"
    assert query.top == 5
    # widened to whole minutes: 08:30:15.123 .. 09:30:15.123 -> 08:30 .. 09:31
    assert query.time_range == TimeRange(
        datetime(2025, 4, 14, 8, 30, tzinfo=UTC), datetime(2025, 4, 14, 9, 31, tzinfo=UTC)
    )


@pytest.mark.parametrize(
    "start, end, interval, widened",
    [
        (
            "2025-04-01T10:23:00Z",
            "2025-04-02T10:23:00Z",
            Interval.HOUR,
            ("2025-04-01T10:00:00+00:00", "2025-04-02T11:00:00+00:00"),
        ),
        (
            "2025-04-01T00:00:00Z",
            "2025-04-02T00:00:00Z",
            Interval.HOUR,
            ("2025-04-01T00:00:00+00:00", "2025-04-02T00:00:00+00:00"),
        ),
        (
            "2025-04-01T10:23:00Z",
            "2025-04-01T10:23:00.001Z",
            Interval.DAY,
            ("2025-04-01T00:00:00+00:00", "2025-04-02T00:00:00+00:00"),
        ),
    ],
)
def test_ranges_widen_to_whole_buckets(start, end, interval, widened):
    time_range = range_of(start, end).widened(interval)
    assert (time_range.start.isoformat(), time_range.end.isoformat()) == widened
    assert bucket_count(time_range, interval) == bucket_count(range_of(start, end), interval)


def test_query_refuses_unknown_parameters():
    with pytest.raises(ParamError, match="unknown parameter 'lable'; this endpoint takes from, label, to"):
        parse_query({"lable": ["car"]}, allowed=frozenset({"from", "to", "label"}), now=NOW, max_buckets=10)


def test_query_refuses_repeated_single_parameters():
    with pytest.raises(ParamError, match="from: given 2 times"):
        parse_query({"from": ["now-1h", "now-2h"]}, allowed=ALL, now=NOW, max_buckets=10)


def test_query_caps_buckets_only_where_they_are_drawn():
    args = {"from": ["now-7d"], "interval": ["minute"]}
    with pytest.raises(ParamError, match="minute buckets; at most 2000"):
        parse_query(args, allowed=ALL, now=NOW, max_buckets=2000, draws_buckets=True)
    totals = parse_query(args, allowed=ALL, now=NOW, max_buckets=2000)
    assert totals.time_range is not None


def test_query_uses_the_coarser_stored_interval_and_widens_the_range_once():
    query = parse_query(
        {"from": ["2025-04-01T10:23:00Z"], "to": ["2025-04-01T12:05:00Z"], "interval": ["minute"]},
        allowed=ALL,
        now=NOW,
        max_buckets=2000,
        stored_intervals=lambda: [Interval.DAY],
    )
    assert (query.interval, query.stored_interval) == (Interval.DAY, Interval.DAY)
    assert query.time_range == TimeRange(datetime(2025, 4, 1, tzinfo=UTC), datetime(2025, 4, 2, tzinfo=UTC))


def test_query_reads_finer_stored_documents_over_buckets_of_the_interval_asked_for():
    query = parse_query(
        {"from": ["2025-04-01T10:23:00Z"], "to": ["2025-04-01T12:05:00Z"], "interval": ["hour"]},
        allowed=ALL,
        now=NOW,
        max_buckets=2000,
        stored_intervals=lambda: [Interval.MINUTE],
    )
    assert (query.interval, query.stored_interval) == (Interval.HOUR, Interval.MINUTE)
    assert query.time_range == TimeRange(datetime(2025, 4, 1, 10, tzinfo=UTC), datetime(2025, 4, 1, 13, tzinfo=UTC))


def test_a_bad_request_never_looks_up_the_stored_intervals():
    def stored_intervals():
        raise AssertionError("looked up before the parameters were checked")

    with pytest.raises(ParamError, match="metric"):
        parse_query({"metric": ["weight"]}, allowed=ALL, now=NOW, max_buckets=10, stored_intervals=stored_intervals)


# what a client may send: known and unknown names, values near the edges of each parser
VALUES = st.text(max_size=40) | st.sampled_from(
    [
        "now",
        "now-99999999999w",
        "now-0m",
        "0001-01-01",
        "9999-12-31T23:59:59+00:00",
        "9999-12-31T23:59:59-01:00",
        "2025-04-14T09:30:00+14:00",
        "2025-02-30",
        "minute",
        "hour",
        "day",
        "images",
        "0",
        "50",
        "9" * 5000,
        "x" * 1001,
        "\x00",
        "\ud800",
    ]
)
ARGS = st.dictionaries(
    st.sampled_from(sorted(ALL | {"format", "page", ""})) | st.text(max_size=5),
    st.lists(VALUES, min_size=1, max_size=3),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(ARGS, st.booleans(), st.booleans(), st.sampled_from([None, 20_000]))
def test_any_parameters_give_a_query_or_a_param_error(args, draws_buckets, one_label, max_total):
    try:
        query = parse_query(
            args,
            allowed=ALL,
            now=NOW,
            max_buckets=2000,
            max_total_buckets=max_total,
            draws_buckets=draws_buckets,
            one_label=one_label,
            stored_intervals=lambda: (Interval.MINUTE, Interval.HOUR, Interval.DAY),
        )
    except ParamError as error:
        assert str(error)
        return
    assert query.time_range is None or query.time_range.start < query.time_range.end
