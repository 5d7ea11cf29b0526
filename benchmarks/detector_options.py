"""OpenCV DNN's own options for YOLOv4-tiny, as images/s ratios to the default forward
pass (one image, Winograd on, FP32 on the CPU, the Darknet graph) measured in the same run.

Why it exists: the consumer's 2x goal over the sequential baseline needs a detector much
faster than OpenCV's default here, since the baseline already spends most of each image in
inference. This tries what OpenCV offers without changing the model or the runtime:
batches of several images per forward, Winograd off, the FP16 CPU target, and the same
network converted to ONNX (`consumer/darknet_onnx.py`) read back by OpenCV. Random pixels
at 640x480 (the cost of a forward pass does not depend on the picture). Needs no services.

    python -m benchmarks.detector_options --passes 48
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from benchmarks.common import argument_parser, configured, save_figures
from consumer.models import resolve_model_files
from consumer.onnx_backend import ensure_onnx
from consumer.settings import DetectorSettings


def images_per_s(net: cv2.dnn.Net, blob: np.ndarray, passes: int) -> float:
    """Images per second over `passes` forward passes of `blob`, after two to warm up."""
    outputs = net.getUnconnectedOutLayersNames()
    for _ in range(2):
        net.setInput(blob)
        net.forward(outputs)
    started = time.perf_counter()
    for _ in range(passes):
        net.setInput(blob)
        net.forward(outputs)
    return passes * blob.shape[0] / (time.perf_counter() - started)


def measure(load: Callable[[], cv2.dnn.Net], onnx_file: Path, size: int, passes: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in range(8)]

    def blob(batch: int) -> np.ndarray:
        return cv2.dnn.blobFromImages(images[:batch], 1 / 255.0, (size, size), swapRB=True)

    def without_winograd() -> cv2.dnn.Net:
        net = load()
        net.enableWinograd(False)
        return net

    def fp16() -> cv2.dnn.Net:
        net = load()
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU_FP16)
        return net

    default = images_per_s(load(), blob(1), passes)
    figures = {"default (1 image per forward)": default}
    for batch in (2, 4, 8):
        figures[f"{batch} images per forward"] = images_per_s(load(), blob(batch), max(1, passes // batch))
    figures["Winograd off"] = images_per_s(without_winograd(), blob(1), passes)
    figures["FP16 CPU target"] = images_per_s(fp16(), blob(1), passes)
    figures["ONNX graph on OpenCV"] = images_per_s(cv2.dnn.readNetFromONNX(str(onnx_file)), blob(1), passes)
    figures["default again"] = images_per_s(load(), blob(1), passes)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__, "detector_options")
    parser.add_argument("--passes", type=int, default=48, help="forward passes per option (default: 48)")
    args = parser.parse_args(argv)
    if args.passes < 1:
        parser.error("--passes must be at least 1")
    _, detector = configured(DetectorSettings)
    files = resolve_model_files(detector.model, detector.models_dir)
    cv2.setNumThreads(detector.threads)
    with tempfile.TemporaryDirectory() as scratch:
        onnx_file = ensure_onnx(files, Path(scratch))
        figures = measure(
            lambda: cv2.dnn.readNetFromDarknet(str(files.cfg), str(files.weights)),
            onnx_file,
            detector.input_size,
            args.passes,
        )
    baseline = (figures["default (1 image per forward)"] + figures["default again"]) / 2
    print(
        f"{files.name} @ {detector.input_size} on opencv-dnn {cv2.__version__}, "
        f"{cv2.getNumThreads()} threads, {args.passes} images per option"
    )
    print(f"{'option':<32}{'images/s':>10}{'x default':>11}")
    for name, rate in figures.items():
        print(f"{name:<32}{rate:>10.1f}{rate / baseline:>10.2f}x")
    save_figures(args.json, {"model": files.name, "images_per_s": figures, "default_mean": baseline})
    return 0


if __name__ == "__main__":
    sys.exit(main())
