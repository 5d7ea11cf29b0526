"""Object counts with known totals, shaped like the indexer's documents (the
index mapping shared with the indexer through pipeline_common),
once per stored interval: minute, hour and day, with the same detections rolled up."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone

from pipeline_common.contracts import Interval, bucket_start
from pipeline_common.contracts.count_index import INDEX_BODY
from pipeline_common.timestamps import to_iso

UTC = timezone.utc
# The apps' clock: "now-24h" means from 2025-04-13T12:00Z to 2025-04-14T12:00Z.
NOW = datetime(2025, 4, 14, 12, 0, tzinfo=UTC)

# The index exactly as the indexer creates it: the contract both stages share.
MAPPING = INDEX_BODY["mappings"]

# (label, source, minute, detections, images): what the small exact tests count.
EVENTS = [
    ("person", "cam-a", datetime(2025, 4, 14, 9, 5, tzinfo=UTC), 3, 2),
    ("person", "cam-a", datetime(2025, 4, 14, 9, 40, tzinfo=UTC), 2, 1),
    ("person", "cam-b", datetime(2025, 4, 14, 11, 10, tzinfo=UTC), 4, 4),
    ("car", "cam-a", datetime(2025, 4, 14, 10, 15, tzinfo=UTC), 5, 3),
    ("car", "cam-b", datetime(2025, 4, 13, 15, 0, tzinfo=UTC), 1, 1),
    ("dog", "cam-b", datetime(2025, 4, 10, 8, 30, tzinfo=UTC), 2, 2),
    ("traffic light", "cam-a", datetime(2025, 4, 14, 11, 59, tzinfo=UTC), 1, 1),
]


# A batch run that started well after every sample event: the API answers all of them
# from the batch index (its cutoff lies after NOW, even for whole days) as final.
RUN_ID = "20250416T000000Z"


def rolled_up(events, intervals=tuple(Interval), run_id: str = RUN_ID) -> list[dict]:
    """One document per (label, source, interval, bucket), as the indexer writes them."""
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for label, source, moment, detections, images in events:
        for interval in intervals:
            key = (label, source, interval.value, bucket_start(moment, interval))
            sums[key][0] += detections
            sums[key][1] += images
    return [
        {
            "label": label,
            "source": source,
            "interval": interval,
            "bucket_start": to_iso(start),
            "detections": detections,
            "images": images,
            "run_id": run_id,
            "indexed_at": to_iso(NOW),
        }
        for (label, source, interval, start), (detections, images) in sums.items()
    ]


def busy_day_events(now: datetime, seed: int = 7) -> list[tuple]:
    """A day of detections ending a few minutes before `now`, with a daily rhythm, for
    the dashboard: every event lies inside "the last 24 hours" for the next 50 minutes."""
    import random
    from datetime import timedelta

    rng = random.Random(seed)
    weights = {"person": 9, "car": 6, "bicycle": 3, "dog": 2, "truck": 2, "traffic light": 1}
    end = bucket_start(now, Interval.MINUTE) - timedelta(minutes=10)
    events = []
    for hours_back in range(23):
        hour = end - timedelta(hours=hours_back)
        rush = 1.0 + (hours_back % 24 in (2, 3, 9, 10)) * 1.5
        for label, weight in weights.items():
            for source in ("cam-a", "cam-b"):
                detections = int(rng.random() * weight * rush * (1.4 if source == "cam-a" else 0.8))
                if detections:
                    minute = hour - timedelta(minutes=rng.randrange(50))
                    events.append((label, source, minute, detections, max(1, detections // 2)))
    return events


def totals_by_label(events, source: str | None = None) -> dict[str, int]:
    sums: dict[str, int] = defaultdict(int)
    for label, event_source, _, detections, _ in events:
        if source is None or event_source == source:
            sums[label] += detections
    return dict(sums)
