"""Batch and live merged: where the range is split, how answers add up, which buckets
are final. Pure functions, no Elasticsearch."""

from datetime import datetime, timedelta, timezone

import pytest

from pipeline_common.contracts import Interval
from simple_frontend.merge import covering_run, merge_counts, merge_timeline, merge_values, plan, split
from simple_frontend.params import CountQuery, TimeRange, bucket_keys
from simple_frontend.queries import Window

UTC = timezone.utc
T = lambda hour, minute=0: datetime(2025, 4, 14, hour, minute, tzinfo=UTC)  # noqa: E731
RUN = "20250414T100500Z"  # a run that started at 10:05
NO_LATENESS = timedelta(0)


def test_the_newest_run_decides_once_it_is_alone():
    assert covering_run([RUN]) == RUN


def test_while_a_newer_run_is_being_indexed_the_older_one_decides():
    assert covering_run(["20250414T110000Z", RUN]) == RUN


def test_ids_that_are_not_runs_are_skipped():
    assert covering_run(["test-run"]) is None
    assert covering_run(["zzz", RUN]) == RUN
    assert covering_run([]) is None


@pytest.mark.parametrize(
    "window, cutoff, expected",
    [
        (Window(T(6), T(9)), T(10), (Window(T(6), T(9)), None)),  # wholly before: batch
        (Window(T(6), T(10)), T(10), (Window(T(6), T(10)), None)),  # ends at the cutoff: batch
        (Window(T(10), T(12)), T(10), (None, Window(T(10), T(12)))),  # from the cutoff on: live
        (Window(T(6), T(12)), T(10), (Window(T(6), T(10)), Window(T(10), T(12)))),  # split
        (Window(None, None), T(10), (Window(None, T(10)), Window(T(10), None))),  # all time
        (Window(T(6), T(12)), None, (None, Window(T(6), T(12)))),  # no run: all live
    ],
)
def test_split(window, cutoff, expected):
    assert split(window, cutoff) == expected


def test_plan_uses_the_stored_interval_and_the_lateness():
    query = CountQuery(TimeRange(T(0), T(12)), Interval.HOUR)
    planned = plan(query, Interval.HOUR, [RUN], timedelta(minutes=10))
    # 10:05 - 10 min = 09:55, in the 09:00 bucket: the batch answers until 09:00
    assert planned.cutoff == T(9)
    assert planned.batch == Window(T(0), T(9)) and planned.live == Window(T(9), T(12))
    assert planned.both
    assert planned.coverage() == {"final_until": "2025-04-14T09:00:00.000Z", "batch_run": RUN, "live": True}


def test_plan_without_any_run_is_all_live():
    planned = plan(CountQuery(TimeRange(T(0), T(12)), Interval.HOUR), Interval.HOUR, [], NO_LATENESS)
    assert planned.batch is None and planned.live == Window(T(0), T(12))
    assert planned.coverage() == {"final_until": None, "batch_run": None, "live": True}


def test_counts_add_up_biggest_first_ties_alphabetical():
    batch = [("person", 5), ("car", 2)]
    live = [("car", 3), ("dog", 5), ("bird", 1)]
    assert merge_counts(batch, live) == [("car", 5), ("dog", 5), ("person", 5), ("bird", 1)]
    assert merge_counts(batch) == batch
    assert merge_values(["cam-b", "cam-a"], ["cam-c", "cam-a"]) == ["cam-a", "cam-b", "cam-c"]


def points(*pairs):
    return [{"t": t.isoformat().replace("+00:00", ".000Z"), "y": y} for t, y in pairs]


def test_timeline_adds_the_parts_per_bucket_and_marks_each_bucket():
    keys = bucket_keys(TimeRange(T(8), T(12)), Interval.HOUR)
    batch = {"car": points((T(8), 2), (T(9), 1))}
    live = {"car": points((T(10), 4), (T(11), 1)), "dog": points((T(11), 2))}
    series = merge_timeline([batch, live], ["car", "dog"], keys, Interval.HOUR, T(10))
    assert series["car"] == [
        {"t": "2025-04-14T08:00:00.000Z", "y": 2, "state": "final"},
        {"t": "2025-04-14T09:00:00.000Z", "y": 1, "state": "final"},
        {"t": "2025-04-14T10:00:00.000Z", "y": 4, "state": "live"},
        {"t": "2025-04-14T11:00:00.000Z", "y": 1, "state": "live"},
    ]
    assert [p["y"] for p in series["dog"]] == [0, 0, 0, 2]


def test_a_day_cut_by_the_cutoff_adds_its_batch_and_live_hours_and_is_live():
    day = datetime(2025, 4, 14, tzinfo=UTC)
    keys = bucket_keys(TimeRange(day - timedelta(days=1), day + timedelta(days=1)), Interval.DAY)
    batch = {"car": points((day - timedelta(days=1), 7), (day, 3))}  # hours before 10:00
    live = {"car": points((day, 2))}  # hours from 10:00 on
    series = merge_timeline([batch, live], ["car"], keys, Interval.DAY, T(10))
    assert series["car"] == [
        {"t": "2025-04-13T00:00:00.000Z", "y": 7, "state": "final"},
        {"t": "2025-04-14T00:00:00.000Z", "y": 5, "state": "live"},
    ]
