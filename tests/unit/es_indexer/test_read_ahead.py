"""ReadAhead: a reader thread ahead of the bulk requests, losing and reordering nothing."""

import threading

import pytest

from es_indexer.reading import ReadAhead


def test_every_item_arrives_in_order():
    assert list(ReadAhead(iter(range(10_000)), depth=7)) == list(range(10_000))


def test_items_are_made_in_another_thread():
    threads = []

    def made():
        for n in range(3):
            threads.append(threading.current_thread().name)
            yield n

    assert list(ReadAhead(made())) == [0, 1, 2]
    assert set(threads) == {"s3-read-ahead"}


def test_a_reader_error_reaches_the_consumer_after_the_items_before_it():
    def failing():
        yield 1
        yield 2
        raise OSError("S3 connection reset")

    seen = []
    with pytest.raises(OSError, match="S3 connection reset"):
        for item in ReadAhead(failing(), depth=1):
            seen.append(item)
    assert seen == [1, 2]


def test_a_consumer_that_stops_early_stops_the_reader():
    made = []

    def endless():
        n = 0
        while True:
            made.append(n)
            yield n
            n += 1

    ahead = ReadAhead(endless(), depth=5)
    items = iter(ahead)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()
    assert not ahead._thread.is_alive()
    assert len(made) <= 3 + 5 + 2
