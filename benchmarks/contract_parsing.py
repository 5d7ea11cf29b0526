"""Cost of the declared contracts: parsing and writing each record, per record, against
a bare `json.loads` / `json.dumps` of the same bytes measured in the same run.

The aggregation job parses every metadata record, the indexer every aggregate line and
the consumer every announcement, so this is the price of validation on each hot path.
Needs no services.

    python -m benchmarks.contract_parsing --records 20000
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from benchmarks.common import argument_parser, save_figures
from pipeline_common.contracts import (
    Aggregate,
    Detection,
    ImageAnnouncement,
    Interval,
    MetadataRecord,
    ModelInfo,
)

MOMENT = datetime(2026, 11, 28, 10, 15, 30, tzinfo=timezone.utc)


def samples(count: int) -> dict[str, list[Any]]:
    """`count` distinct records of each kind, as the stages write them."""
    announcements, records, aggregates = [], [], []
    model = ModelInfo("yolov4-tiny", 416, 0.25, 0.45)
    for n in range(count):
        image_id = f"{n:032x}"
        path = f"s3://image-pipeline/images/{image_id}.jpg"
        moment = MOMENT + timedelta(seconds=n)
        announcements.append(ImageAnnouncement(image_id, path, f"cam-{n % 10}", moment, moment, 50_000 + n, 768, 576))
        detections = tuple(
            Detection(("person", "car", "dog")[k % 3], k % 80, 0.5 + k / 100, (k, k, 20 + k, 30 + k))
            for k in range(n % 6)
        )
        timings = {"download": 11.5, "decode": 7.0, "inference": 41.2, "total": 59.7}
        records.append(
            MetadataRecord(image_id, path, f"cam-{n % 10}", moment, moment, model, 768, 576, detections, timings)
        )
        aggregates.append(
            Aggregate(
                "person",
                f"cam-{n % 10}",
                Interval.HOUR,
                MOMENT.replace(minute=0, second=0) + timedelta(hours=n),
                3 + n,
                2 + n,
            )
        )
    return {"announcement": announcements, "metadata record": records, "aggregate line": aggregates}


def best_of(repeats: int, work: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def measure(count: int, repeats: int) -> dict[str, dict[str, float]]:
    figures = {}
    for name, records in samples(count).items():
        cls = type(records[0])
        write = (lambda r: r.to_line()) if cls is Aggregate else (lambda r: r.to_json_bytes())
        payloads = [write(r) for r in records]
        dicts = [json.loads(p) for p in payloads]
        compact = {"separators": (",", ":")}
        # each timed function binds this record kind's data (default arguments), not the loop's
        parse_json = best_of(repeats, lambda payloads=payloads: [json.loads(p) for p in payloads])
        parse_contract = best_of(repeats, lambda cls=cls, payloads=payloads: [cls.from_json_bytes(p) for p in payloads])
        write_json = best_of(repeats, lambda dicts=dicts, compact=compact: [json.dumps(d, **compact) for d in dicts])
        write_contract = best_of(repeats, lambda write=write, records=records: [write(r) for r in records])
        figures[name] = {
            "parse_us": parse_contract / count * 1e6,
            "json_loads_us": parse_json / count * 1e6,
            "parse_ratio": parse_contract / parse_json,
            "write_us": write_contract / count * 1e6,
            "json_dumps_us": write_json / count * 1e6,
            "write_ratio": write_contract / write_json,
        }
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__, "contract_parsing")
    parser.add_argument("--records", type=int, default=20_000, help="records of each kind (default: 20000)")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many passes (default: 3)")
    args = parser.parse_args(argv)
    if args.records < 1 or args.repeats < 1:
        parser.error("--records and --repeats must be at least 1")
    figures = measure(args.records, args.repeats)
    print(f"{args.records} records of each kind, best of {args.repeats} passes, microseconds per record")
    print(f"{'record':<17}{'parse':>8}{'json.loads':>12}{'ratio':>8}{'write':>9}{'json.dumps':>12}{'ratio':>8}")
    for name, f in figures.items():
        print(
            f"{name:<17}{f['parse_us']:>8.1f}{f['json_loads_us']:>12.1f}{f['parse_ratio']:>7.1f}x"
            f"{f['write_us']:>9.1f}{f['json_dumps_us']:>12.1f}{f['write_ratio']:>7.1f}x"
        )
    save_figures(args.json, {"records": args.records, "figures": figures})
    return 0


if __name__ == "__main__":
    sys.exit(main())
