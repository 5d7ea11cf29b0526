"""The detector on real photos (Debian's darknet package) with the offline model."""
from __future__ import annotations

from collections import Counter

import cv2
import numpy as np
import pytest

from consumer.decode import decode_image
from consumer.detector import Detections

pytestmark = pytest.mark.model
MAX_PIXELS = 40_000_000


def detect_file(detector, path) -> tuple[Detections, tuple[int, int]]:
    image = decode_image(path.read_bytes(), MAX_PIXELS)
    return detector.detect(image), image.shape[:2]


@pytest.mark.parametrize(
    "photo, expected",
    [
        ("dog.jpg", {"dog", "bicycle"}),
        ("person.jpg", {"person", "dog"}),
        ("horses.jpg", {"horse"}),
        ("eagle.jpg", {"bird"}),
        ("giraffe.jpg", {"giraffe", "zebra"}),
    ],
)
def test_finds_the_objects_in_real_photos(detector, photos, photo, expected):
    detections, _ = detect_file(detector, photos / photo)

    assert expected <= set(detections.labels)


def test_dog_photo_also_has_a_vehicle(detector, photos):
    detections, _ = detect_file(detector, photos / "dog.jpg")

    assert {"car", "truck"} & set(detections.labels)


def test_counts_several_horses(detector, photos):
    detections, _ = detect_file(detector, photos / "horses.jpg")

    assert Counter(detections.labels)["horse"] >= 3


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


def test_records_say_which_model_ran(detector):
    assert detector.model_info.name == "yolov3-tiny"
    assert detector.model_info.input_size == 416
    assert detector.model_info.confidence_threshold == 0.25


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
