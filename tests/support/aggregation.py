"""The aggregation job on the real S3, for the integration tests: metadata records of a
synthetic history, runs of the CLI into output folders of a test's own prefix, and the
count lines a run wrote."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hadoop import cli
from pipeline_common.output_runs import SUCCESS_MARKER
from pipeline_common.s3 import delete_prefix, list_keys

LABELS = ["person", "car", "dog", "bicycle", "truck"]
SOURCES = ["front-door", "parking", "garden"]


def metadata_record(number: int, processed_at: str = "2026-11-28T15:00:00Z", labels: list[str] | None = None) -> dict:
    """Image `number`'s metadata record (JSON data): 0 to 3 objects, a source of three, a
    capture time spread over six hours of 2026-11-28 (08:00-14:00), so that later images
    revisit the buckets of earlier ones."""
    if labels is None:
        labels = [LABELS[(number * 7 + k) % 5] for k in range(number % 4)]
    image_id = f"{number:032x}"
    minute = (number * 13) % (6 * 60)
    return {
        "schema_version": 1,
        "image_id": image_id,
        "image_path": f"s3://image-pipeline/images/{image_id}.jpg",
        "source": SOURCES[number % 3],
        "captured_at": f"2026-11-28T{8 + minute // 60:02d}:{minute % 60:02d}:00Z",
        "processed_at": processed_at,
        "model": {"name": "yolov4-tiny", "input_size": 416, "confidence_threshold": 0.25, "nms_threshold": 0.45},
        "width": 640,
        "height": 480,
        "detections": [{"label": label, "class_id": 0, "confidence": 0.8, "box": [0, 0, 5, 5]} for label in labels],
    }


class AggregationRuns:
    """Runs of the aggregation CLI (`-r inline` unless a run says otherwise) under
    `prefix` in `bucket`: metadata in `<prefix>metadata/`, the archive in
    `<prefix>detections/`, each run's output in `<prefix><out>/<run id>/`. Run ids follow
    the clock, one second apart, as the scheduler's would."""

    def __init__(self, s3, bucket: str, prefix: str, summary_dir: Path, source: str) -> None:
        self.s3, self.bucket, self.prefix, self.summary_dir = s3, bucket, prefix, summary_dir
        self.source = source  # what every run reads unless it says otherwise: archive or metadata
        self.runs = 0

    def write_metadata(self, records: list[dict]) -> None:
        for data in records:
            self.s3.put_object(
                Bucket=self.bucket, Key=f"{self.prefix}metadata/{data['image_id']}.json", Body=json.dumps(data).encode()
            )

    def run(self, out: str, *args: str) -> tuple[str, dict]:
        """A run into `<prefix><out>/`; its run id and its summary."""
        self.runs += 1
        run_id = (datetime.now(timezone.utc) + timedelta(seconds=self.runs)).strftime("%Y%m%dT%H%M%SZ")
        summary = self.summary_dir / f"{out}-{run_id}.json"
        code = cli.main(
            [
                "-r",
                "inline",
                "--source",
                self.source,
                "--archive-prefix",
                f"{self.prefix}detections/",
                "--input-prefix",
                f"{self.prefix}metadata/",
                "--output-prefix",
                f"{self.prefix}{out}/",
                "--run-id",
                run_id,
                "--summary-file",
                str(summary),
                *args,
            ]
        )
        assert code == 0
        return run_id, json.loads(summary.read_text())

    def lines(self, out: str, run_id: str) -> list[str]:
        """The count lines of a finished run (its success marker written), sorted."""
        keys = list(list_keys(self.s3, self.bucket, f"{self.prefix}{out}/{run_id}/"))
        assert f"{self.prefix}{out}/{run_id}/{SUCCESS_MARKER}" in keys
        found = []
        for key in keys:
            if key.rsplit("/", 1)[-1].startswith("part-"):
                found += self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode().splitlines()
        return sorted(found)

    def full_recount(self) -> list[str]:
        """The lines of a full recount (of `source`) into `<prefix>full/`."""
        run_id, summary = self.run("full", "--full")
        assert summary["mode"] == "full" and summary["source"] == self.source
        return self.lines("full", run_id)

    def delete_all(self) -> None:
        delete_prefix(self.s3, self.bucket, self.prefix)
