"""Offsets are stored in order: a partition's position never passes an unfinished message."""
from __future__ import annotations

import pytest

from consumer.offsets import OffsetTracker


def test_position_waits_for_the_earliest_unfinished_message():
    tracker = OffsetTracker()
    for offset in (10, 11, 12):
        tracker.started("images", 0, offset)

    tracker.finished("images", 0, 12)
    tracker.finished("images", 0, 11)
    assert tracker.committable() == {}

    tracker.finished("images", 0, 10)
    assert tracker.committable() == {("images", 0): 13}


def test_position_advances_as_far_as_the_contiguous_finished_run():
    tracker = OffsetTracker()
    for offset in range(5):
        tracker.started("images", 0, offset)
    for offset in (0, 1, 3):
        tracker.finished("images", 0, offset)

    assert tracker.committable() == {("images", 0): 2}
    assert tracker.committable() == {}  # reported once, until it moves again
    tracker.finished("images", 0, 2)
    assert tracker.committable() == {("images", 0): 4}
    assert tracker.in_flight == 1


def test_partitions_are_independent():
    tracker = OffsetTracker()
    tracker.started("images", 0, 7)
    tracker.started("images", 1, 3)
    tracker.started("images", 1, 4)

    tracker.finished("images", 1, 3)

    assert tracker.committable() == {("images", 1): 4}


def test_gaps_in_offsets_are_fine():
    # compacted topics and transaction markers leave holes between offsets
    tracker = OffsetTracker()
    tracker.started("images", 0, 100)
    tracker.started("images", 0, 105)
    tracker.finished("images", 0, 105)
    tracker.finished("images", 0, 100)

    assert tracker.committable() == {("images", 0): 106}


def test_forgotten_partitions_are_not_reported():
    tracker = OffsetTracker()
    tracker.started("images", 0, 1)
    tracker.forget([("images", 0)])

    tracker.finished("images", 0, 1)  # a late result for a revoked partition

    assert tracker.committable() == {}
    assert not tracker.owns("images", 0)


def test_going_backwards_without_forgetting_is_a_bug():
    tracker = OffsetTracker()
    tracker.started("images", 0, 5)

    with pytest.raises(ValueError, match="forget"):
        tracker.started("images", 0, 5)
