"""The onnxruntime backend: the Darknet files converted by consumer.darknet_onnx give
the detections OpenCV DNN gives, on the evaluation photos (the tests that run both models
are marked `model`: `make test-unit` leaves them out)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from consumer.darknet_onnx import ConversionError, convert
from consumer.detector import Detector, DetectorConfig
from consumer.evaluation import iou, load_set, photo_path
from consumer.models import ModelNotFound, resolve_model_files
from consumer.onnx_backend import OnnxRunner, ensure_onnx, onnx_path
from consumer.settings import DEFAULT_MODELS_DIR

BOX_TOLERANCE_PX = 3
SCORE_TOLERANCE = 0.01


@pytest.fixture(scope="module")
def files():
    return resolve_model_files("yolov4-tiny", DEFAULT_MODELS_DIR)


@pytest.fixture(scope="module")
def both(files, tmp_path_factory):
    cache = tmp_path_factory.mktemp("onnx")
    config = DetectorConfig()
    return Detector.load(files, config), Detector.load(files, config, OnnxRunner.load(files, cache, threads=1))


@pytest.mark.model
@pytest.mark.parametrize("photo", [p for p in load_set()], ids=lambda photo: photo.name)
def test_onnxruntime_finds_what_opencv_finds(both, photo):
    opencv, onnx = both
    path = photo_path(photo)
    if path is None:
        pytest.fail(f"{photo.name} ({photo.source}) is not installed: run make setup", pytrace=False)
    image = cv2.imread(str(path))
    expected, got = opencv.detect(image), onnx.detect(image)

    assert got.labels == expected.labels
    assert np.abs(got.boxes - expected.boxes).max(initial=0) <= BOX_TOLERANCE_PX
    assert np.abs(got.scores - expected.scores).max(initial=0) <= SCORE_TOLERANCE


@pytest.mark.model
def test_raw_outputs_match_opencv_on_a_photo(both, photos):
    opencv, onnx = both
    blob = opencv.prepare(cv2.imread(str(photos / "person.jpg"))).array
    for mine, theirs in zip(onnx._runner.forward(blob), opencv._runner.forward(blob), strict=True):
        assert mine.shape == theirs.shape
        assert np.abs(mine - theirs).max() < 1e-3


@pytest.mark.model
def test_records_name_the_runtime(both):
    opencv, onnx = both

    assert onnx.model_info.runtime.startswith("onnxruntime ")
    assert onnx.model_info.files_sha256 == opencv.model_info.files_sha256


def test_conversion_is_cached_by_content(files, tmp_path):
    first = ensure_onnx(files, tmp_path)
    stamp = first.stat().st_mtime_ns

    assert first == onnx_path(files, tmp_path) and files.sha256["weights"][:12] in first.name
    assert ensure_onnx(files, tmp_path).stat().st_mtime_ns == stamp


def test_a_corrupt_cached_file_is_reported(files, tmp_path):
    onnx_path(files, tmp_path).write_bytes(b"not a model")

    with pytest.raises(ModelNotFound, match="delete it to convert again"):
        OnnxRunner.load(files, tmp_path, threads=1)


@pytest.mark.parametrize(
    "cfg, weights, message",
    [
        ("[convolutional]\nfilters=1\n", b"\0" * 20, "starts with a \\[net\\]"),
        ("[net]\n[shortcut]\nfrom=-1\n", b"\0" * 20, "\\[shortcut\\] is not supported"),
        ("[net]\nchannels=3\n[convolutional]\nfilters=4\nsize=3\n[yolo]\nclasses=1\n", b"\0" * 20, "ends early"),
        ("[net]\nwidth=32\nheight=32\n[maxpool]\n", b"\0" * 16, "no \\[yolo\\] layer"),
        ("[net]\n[maxpool]\n", b"\0" * 40, "left over"),
    ],
)
def test_what_cannot_be_converted_is_refused_with_a_reason(cfg, weights, message):
    with pytest.raises(ConversionError, match=message):
        convert(cfg, weights)


def test_the_evaluation_boxes_are_plausible():
    for photo in load_set():
        path = photo_path(photo)
        assert path is not None, photo.name
        height, width = cv2.imread(str(path)).shape[:2]
        assert (width, height) == photo.size, photo.name
        for truth in photo.objects:
            x, y, w, h = truth.box
            assert 0 <= x and 0 <= y and x + w <= width and y + h <= height, (photo.name, truth)
        assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(1 / 3)
