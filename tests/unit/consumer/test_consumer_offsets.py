"""Offsets are stored in order: a partition's position never passes an unfinished message."""

from __future__ import annotations

import pytest

from consumer.offsets import OffsetTracker


def tracker_after(started, finished=()) -> OffsetTracker:
    """A tracker of the images topic once the (partition, offset) pairs in `started`, then
    those in `finished`, were reported in that order."""
    tracker = OffsetTracker()
    for partition, offset in started:
        tracker.started("images", partition, offset)
    for partition, offset in finished:
        tracker.finished("images", partition, offset)
    return tracker


def test_position_waits_for_the_earliest_unfinished_message():
    tracker = tracker_after([(0, 10), (0, 11), (0, 12)], [(0, 12), (0, 11)])
    assert tracker.committable() == {}

    tracker.finished("images", 0, 10)
    assert tracker.committable() == {("images", 0): 13}


@pytest.mark.parametrize(
    "started, finished, committable",
    [
        pytest.param([(0, 7), (1, 3), (1, 4)], [(1, 3)], {("images", 1): 4}, id="partitions are independent"),
        # compacted topics and transaction markers leave holes between offsets
        pytest.param([(0, 100), (0, 105)], [(0, 105), (0, 100)], {("images", 0): 106}, id="gaps in offsets are fine"),
    ],
)
def test_the_position_is_per_partition_and_skips_holes(started, finished, committable):
    assert tracker_after(started, finished).committable() == committable


def test_position_advances_as_far_as_the_contiguous_finished_run():
    tracker = tracker_after([(0, offset) for offset in range(5)], [(0, 0), (0, 1), (0, 3)])

    assert tracker.committable() == {("images", 0): 2}
    assert tracker.committable() == {}  # reported once, until it moves again
    tracker.finished("images", 0, 2)
    assert tracker.committable() == {("images", 0): 4}
    assert tracker.in_flight == 1


def test_forgotten_partitions_are_not_reported():
    tracker = tracker_after([(0, 1)])
    tracker.forget([("images", 0)])

    tracker.finished("images", 0, 1)  # a late result for a revoked partition

    assert tracker.committable() == {}
    assert not tracker.owns("images", 0)


def test_going_backwards_without_forgetting_is_a_bug():
    tracker = tracker_after([(0, 5)])

    with pytest.raises(ValueError, match="forget"):
        tracker.started("images", 0, 5)
