"""Scoring detections against the hand-labelled evaluation set."""

from __future__ import annotations

from consumer.evaluation import Photo, Score, Truth, load_set, score_photo

PHOTO = Photo(
    name="street.jpg",
    source="test",
    size=(400, 300),
    objects=(
        Truth("car", (10, 10, 100, 50), also=("truck",)),
        Truth("person", (200, 100, 40, 120)),
        Truth("kite", (300, 10, 10, 10), optional=True),
    ),
)


def test_a_perfect_answer_scores_one():
    score = score_photo(PHOTO, [("car", 0.9, (12, 10, 98, 52)), ("person", 0.8, (200, 100, 40, 120))])

    assert (score.hits, score.false_alarms, score.required) == (2, 0, 2)
    assert score.precision == score.recall == 1.0


def test_an_accepted_alternative_label_is_a_hit():
    assert score_photo(PHOTO, [("truck", 0.9, (10, 10, 100, 50))]).hits == 1


def test_wrong_label_poor_overlap_and_duplicates_are_false_alarms():
    score = score_photo(
        PHOTO,
        [
            ("car", 0.9, (10, 10, 100, 50)),
            ("car", 0.5, (10, 10, 100, 50)),  # the same car again
            ("dog", 0.7, (200, 100, 40, 120)),  # right place, wrong label
            ("person", 0.6, (200, 100, 40, 40)),  # IoU 1/3
        ],
    )

    assert (score.hits, score.false_alarms) == (1, 3)
    assert score.missed == ["street.jpg: person at [200, 100, 40, 120]"]
    assert score.precision == 0.25 and score.recall == 0.5


def test_optional_objects_count_neither_way():
    found = score_photo(PHOTO, [("kite", 0.9, (300, 10, 10, 10))])
    missed = score_photo(PHOTO, [])

    assert (found.hits, found.false_alarms, found.required) == (0, 0, 2)
    assert missed.missed == ["street.jpg: car at [10, 10, 100, 50]", "street.jpg: person at [200, 100, 40, 120]"]


def test_scores_add_up_over_photos():
    total = Score()
    total.add(score_photo(PHOTO, [("car", 0.9, (10, 10, 100, 50))]))
    total.add(score_photo(PHOTO, [("dog", 0.9, (0, 0, 5, 5))]))

    assert (total.hits, total.false_alarms, total.required) == (1, 1, 4)


def test_the_set_uses_canonical_labels_and_every_photo_requires_something_or_is_a_painting():
    from pipeline_common.contracts import COCO_LABELS

    photos = load_set()
    assert len(photos) >= 9
    for photo in photos:
        for truth in photo.objects:
            assert truth.label in COCO_LABELS and set(truth.also) <= set(COCO_LABELS)
        assert photo.required_labels() or photo.name == "scream.jpg"
