"""Which offsets may be stored for commit, given that messages finish out of order.

Kafka commits one position per partition ("everything before this is done"), so a
partition's position may only move past an offset once that message and every
earlier one polled from the partition are finished. Pure bookkeeping, no Kafka.
"""

from __future__ import annotations

from collections import deque
from typing import Iterable

Partition = tuple[str, int]  # (topic, partition)


class OffsetTracker:
    def __init__(self) -> None:
        self._in_order: dict[Partition, deque[int]] = {}
        self._finished: dict[Partition, set[int]] = {}

    def started(self, topic: str, partition: int, offset: int) -> None:
        queue = self._in_order.setdefault((topic, partition), deque())
        if queue and offset <= queue[-1]:
            raise ValueError(
                f"{topic}/{partition}: offset {offset} polled after {queue[-1]}; "
                "forget() the partition when it is revoked or seeks back"
            )
        queue.append(offset)
        self._finished.setdefault((topic, partition), set())

    def finished(self, topic: str, partition: int, offset: int) -> None:
        """Mark a message done. Unknown (e.g. forgotten after a revoke) ones are ignored."""
        tp = (topic, partition)
        if tp in self._in_order and offset in self._in_order[tp]:
            self._finished[tp].add(offset)

    def committable(self) -> dict[Partition, int]:
        """Partitions whose position advanced since the last call -> the next offset to
        read (last contiguous finished offset + 1), which is what Kafka stores."""
        positions: dict[Partition, int] = {}
        for tp, queue in self._in_order.items():
            done = self._finished[tp]
            while queue and queue[0] in done:
                offset = queue.popleft()
                done.discard(offset)
                positions[tp] = offset + 1
        return positions

    def forget(self, partitions: Iterable[Partition]) -> None:
        for tp in partitions:
            self._in_order.pop(tp, None)
            self._finished.pop(tp, None)

    def owns(self, topic: str, partition: int) -> bool:
        return (topic, partition) in self._in_order

    @property
    def in_flight(self) -> int:
        return sum(len(queue) for queue in self._in_order.values())
