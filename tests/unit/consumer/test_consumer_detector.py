"""The detector (YOLOv4-tiny, the default) on real photos from Debian's darknet package."""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np
import pytest

from consumer.decode import decode_image
from consumer.detector import Detections, Detector, DetectorConfig
from consumer.evaluation import load_set, photo_path
from consumer.models import resolve_model_files
from consumer.settings import DEFAULT_MODELS_DIR
from pipeline_common.contracts import COCO_LABELS

pytestmark = pytest.mark.model
MAX_PIXELS = 40_000_000


def detect_file(detector, path) -> tuple[Detections, tuple[int, int]]:
    image = decode_image(path.read_bytes(), MAX_PIXELS)
    return detector.detect(image), image.shape[:2]


@pytest.mark.parametrize("photo", load_set(), ids=lambda photo: photo.name)
def test_finds_what_a_person_sees_in_each_photo(detector, photo):
    """Every object the evaluation set requires (not optional) is found under its label
    or one a person would accept (a pickup is a truck or a car); no exact counts."""
    path = photo_path(photo)
    if path is None:
        pytest.fail(f"{photo.name} ({photo.source}) is not installed: run make setup", pytrace=False)
    found = set(detector.detect(cv2.imread(str(path))).labels)

    for accepted in photo.required_labels():
        assert accepted & found, f"{photo.name}: expected one of {sorted(accepted)}, found {sorted(found)}"


def test_nothing_real_in_a_painting(detector, photos):
    detections, _ = detect_file(detector, photos / "scream.jpg")

    assert set(detections.labels) <= {"person"}  # at most Munch's figure


def test_the_alternative_model_finds_the_obvious_objects(photos):
    files = resolve_model_files("yolov3-tiny", DEFAULT_MODELS_DIR)
    yolov3 = Detector.load(files, DetectorConfig())

    assert yolov3.model_info.name == "yolov3-tiny" and yolov3.class_names == COCO_LABELS
    for photo, expected in (("dog.jpg", {"dog", "bicycle"}), ("giraffe.jpg", {"giraffe", "zebra"})):
        detections, _ = detect_file(yolov3, photos / photo)
        assert expected <= set(detections.labels)


def test_counts_several_horses(detector, photos):
    detections, _ = detect_file(detector, photos / "horses.jpg")

    assert Counter(detections.labels)["horse"] >= 2


def test_boxes_lie_inside_the_image_and_best_come_first(detector, photos):
    for photo in ("dog.jpg", "kite.jpg", "person.jpg"):
        detections, (height, width) = detect_file(detector, photos / photo)
        boxes = detections.boxes
        assert len(detections) > 0
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
        assert (boxes[:, 0] + boxes[:, 2] <= width).all() and (boxes[:, 1] + boxes[:, 3] <= height).all()
        assert list(detections.scores) == sorted(detections.scores, reverse=True)
        assert (detections.scores >= 0.25).all()


def test_dog_box_is_where_the_dog_is(detector, photos):
    detections, _ = detect_file(detector, photos / "dog.jpg")
    x, y, w, h = detections.boxes[detections.labels.index("dog")]

    # the dog sits in the lower left of the 768x576 photo
    assert x < 300 and y > 150 and x + w < 450 and y + h > 450


def test_plain_image_gives_an_empty_result_not_none(detector):
    detections = detector.detect(np.full((240, 320, 3), 127, dtype=np.uint8))

    assert isinstance(detections, Detections)
    assert len(detections) == 0 and detections.boxes.shape == (0, 4)
    assert detections.to_records() == ()


def test_records_say_which_model_ran_with_its_file_digests(detector):
    assert detector.model_info.name == "yolov4-tiny"
    assert detector.model_info.input_size == 416
    assert detector.model_info.confidence_threshold == 0.25
    assert detector.model_info.files_sha256["weights"] == (
        "cf9fbfd0f6d4869b35762f56100f50ed05268084078805f0e7989efe5bb8ca87"
    )
    assert set(detector.model_info.files_sha256) == {"cfg", "weights", "names"}
    assert detector.model_info.runtime == f"opencv-dnn {cv2.__version__}"


def test_labels_are_the_canonical_coco_names(detector):
    assert detector.class_names == COCO_LABELS
    assert "motorcycle" in detector.class_names and "motorbike" not in detector.class_names


def test_results_become_metadata_detections(detector, photos):
    detections, _ = detect_file(detector, photos / "eagle.jpg")
    records = detections.to_records()

    assert records[0].label == "bird" and records[0].class_id == 14
    assert len(records[0].box) == 4 and all(isinstance(v, int) for v in records[0].box)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8), np.zeros((10, 10, 3), np.float32), "image"],
)
def test_refuses_arrays_that_are_not_8bit_bgr(detector, bad):
    with pytest.raises(ValueError, match="8-bit BGR"):
        detector.detect(bad)


def test_same_image_same_result(detector, photos):
    image = cv2.imread(str(photos / "person.jpg"))
    first, second = detector.detect(image), detector.detect(image.copy())

    assert first.labels == second.labels
    assert np.array_equal(first.boxes, second.boxes)
