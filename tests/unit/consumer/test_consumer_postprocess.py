"""postprocess: raw YOLO rows -> Detections, on synthetic network output."""

from __future__ import annotations

import numpy as np
import pytest

from consumer.detector import Detections, postprocess

NAMES = ("person", "dog", "car")
W, H = 400, 200


def row(cx, cy, w, h, scores, objectness=1.0):
    """One output row; coordinates relative to the image, like the network's."""
    return [cx, cy, w, h, objectness, *scores]


def run(rows, conf=0.25, nms=0.45, names=NAMES, width=W, height=H):
    output = np.array(rows, dtype=np.float32).reshape(-1, 5 + len(names))
    return postprocess([output], width, height, names, conf, nms)


def test_converts_centre_boxes_to_pixel_corner_boxes():
    detections = run([row(0.5, 0.5, 0.25, 0.5, [0.0, 0.9, 0.0])])

    assert detections.labels == ("dog",)
    assert detections.class_ids.tolist() == [1]
    assert detections.boxes.tolist() == [[150, 50, 100, 100]]
    assert detections.scores[0] == pytest.approx(0.9)


def test_best_class_of_a_row_wins():
    detections = run([row(0.5, 0.5, 0.2, 0.2, [0.3, 0.1, 0.6])])

    assert detections.labels == ("car",)


@pytest.mark.parametrize("conf, kept", [(0.25, 2), (0.5, 1), (0.95, 0)])
def test_confidence_threshold_is_applied(conf, kept):
    rows = [row(0.2, 0.5, 0.1, 0.2, [0.9, 0, 0]), row(0.8, 0.5, 0.1, 0.2, [0.3, 0, 0])]

    assert len(run(rows, conf=conf)) == kept


def test_overlapping_boxes_of_one_class_are_suppressed_to_the_best():
    rows = [row(0.5, 0.5, 0.2, 0.4, [0.0, 0.7, 0.0]), row(0.51, 0.5, 0.2, 0.4, [0.0, 0.9, 0.0])]

    detections = run(rows)

    assert detections.labels == ("dog",)
    assert detections.scores[0] == pytest.approx(0.9)


def test_overlapping_boxes_of_different_classes_both_survive():
    # a dog on a... car: same box, different classes; NMS must run per class
    rows = [row(0.5, 0.5, 0.2, 0.4, [0.0, 0.7, 0.0]), row(0.5, 0.5, 0.2, 0.4, [0.0, 0.0, 0.8])]

    detections = run(rows)

    assert detections.labels == ("car", "dog")


@pytest.mark.parametrize("nms, kept", [(0.9, 2), (0.3, 1)])
def test_nms_threshold_decides_how_much_overlap_is_allowed(nms, kept):
    # two boxes of one class with IoU ~0.6
    rows = [row(0.45, 0.5, 0.2, 0.4, [0.8, 0, 0]), row(0.5, 0.5, 0.2, 0.4, [0.7, 0, 0])]

    assert len(run(rows, nms=nms)) == kept


def test_boxes_are_clipped_to_the_image():
    rows = [row(0.0, 0.0, 0.5, 0.5, [0.9, 0, 0]), row(1.0, 1.0, 0.2, 1.0, [0, 0.9, 0])]

    detections = run(rows)

    by_label = dict(zip(detections.labels, detections.boxes.tolist(), strict=True))
    assert by_label["person"] == [0, 0, 100, 50]
    assert by_label["dog"] == [360, 100, 40, 100]


def test_boxes_wholly_outside_the_image_are_dropped():
    detections = run([row(1.5, 0.5, 0.2, 0.2, [0.9, 0, 0]), row(0.5, -0.6, 0.2, 0.2, [0.9, 0, 0])])

    assert len(detections) == 0


def test_results_are_sorted_best_first_across_outputs():
    first = np.array([row(0.2, 0.5, 0.1, 0.1, [0.4, 0, 0])], np.float32)
    second = np.array([row(0.8, 0.5, 0.1, 0.1, [0, 0.95, 0]), row(0.5, 0.2, 0.1, 0.1, [0, 0, 0.6])], np.float32)

    detections = postprocess([first, second], W, H, NAMES, 0.25, 0.45)

    assert detections.labels == ("dog", "car", "person")


def test_no_rows_gives_an_empty_detections_object():
    detections = postprocess([np.empty((0, 8), np.float32)], W, H, NAMES, 0.25, 0.45)

    assert isinstance(detections, Detections) and len(detections) == 0


def test_output_that_does_not_match_the_class_names_is_refused():
    with pytest.raises(ValueError, match="columns"):
        postprocess([np.zeros((3, 85), np.float32)], W, H, NAMES, 0.25, 0.45)


class TestDetectionsValidation:
    def test_lengths_must_agree(self):
        with pytest.raises(ValueError, match="disagree"):
            Detections(boxes=[[0, 0, 1, 1]], scores=[0.5, 0.6], class_ids=[0], labels=("a",))

    def test_boxes_must_be_inside_and_non_empty(self):
        with pytest.raises(ValueError, match="boxes"):
            Detections(boxes=[[-1, 0, 5, 5]], scores=[0.5], class_ids=[0], labels=("a",))
        with pytest.raises(ValueError, match="boxes"):
            Detections(boxes=[[0, 0, 0, 5]], scores=[0.5], class_ids=[0], labels=("a",))

    def test_scores_must_be_probabilities(self):
        with pytest.raises(ValueError, match="scores"):
            Detections(boxes=[[0, 0, 5, 5]], scores=[1.5], class_ids=[0], labels=("a",))

    def test_arrays_cannot_be_changed_afterwards(self):
        detections = Detections(boxes=[[0, 0, 5, 5]], scores=[0.5], class_ids=[0], labels=("a",))

        with pytest.raises(ValueError):
            detections.boxes[0, 0] = 3
