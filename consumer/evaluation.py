"""Detection quality on the hand-labelled evaluation set (`evaluation_set.json`).

Matching is the usual one at IoU 0.5: detections are taken best score first; each is a
hit when it overlaps an object of an accepted label (its label or one of its `also`
labels) not matched yet by at least `iou` (required objects before optional ones),
a false alarm otherwise (a second box on the same object included). Hits on optional
objects count neither way. Precision = hits / (hits + false alarms); recall = hits /
required objects.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

EVALUATION_SET = Path(__file__).with_name("evaluation_set.json")
DARKNET_PHOTOS = Path("/usr/share/darknet/data")


@dataclass(frozen=True)
class Truth:
    label: str
    box: tuple[int, int, int, int]
    also: tuple[str, ...] = ()
    optional: bool = False

    def accepts(self, label: str) -> bool:
        return label == self.label or label in self.also


@dataclass(frozen=True)
class Photo:
    name: str
    source: str
    size: tuple[int, int]
    objects: tuple[Truth, ...]

    def required_labels(self) -> list[set[str]]:
        """Per required object, the labels a person would accept for it."""
        return [{o.label, *o.also} for o in self.objects if not o.optional]


@dataclass
class Score:
    hits: int = 0
    false_alarms: int = 0
    required: int = 0
    missed: list[str] = field(default_factory=list)
    spurious: list[str] = field(default_factory=list)

    def add(self, other: "Score") -> None:
        self.hits += other.hits
        self.false_alarms += other.false_alarms
        self.required += other.required
        self.missed += other.missed
        self.spurious += other.spurious

    @property
    def precision(self) -> float:
        found = self.hits + self.false_alarms
        return self.hits / found if found else 1.0

    @property
    def recall(self) -> float:
        return self.hits / self.required if self.required else 1.0


def load_set(path: Path = EVALUATION_SET) -> list[Photo]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        Photo(
            name=item["photo"],
            source=item["source"],
            size=tuple(item["size"]),
            objects=tuple(
                Truth(o["label"], tuple(o["box"]), tuple(o.get("also", ())), bool(o.get("optional", False)))
                for o in item["objects"]
            ),
        )
        for item in data["photos"]
    ]


def source_folder(source: str) -> Path | None:
    """Where a source's photos are installed, found without importing any package."""
    if source == "darknet":
        return DARKNET_PHOTOS
    spec = importlib.util.find_spec(source)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "samples"


def photo_path(photo: Photo) -> Path | None:
    folder = source_folder(photo.source)
    path = folder / photo.name if folder else None
    return path if path is not None and path.is_file() else None


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = min(ax + aw, bx + bw) - max(ax, bx)
    h = min(ay + ah, by + bh) - max(ay, by)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / (aw * ah + bw * bh - inter)


def score_photo(photo: Photo, detections: Iterable[tuple[str, float, Sequence[int]]], threshold: float = 0.5) -> Score:
    """`detections`: (label, score, box [x, y, w, h]) in pixels of the photo."""
    matched: set[int] = set()
    score = Score(required=sum(not o.optional for o in photo.objects))
    for label, _, box in sorted(detections, key=lambda d: -d[1]):
        candidates = [
            (o.optional, -iou(box, o.box), i)
            for i, o in enumerate(photo.objects)
            if i not in matched and o.accepts(label) and iou(box, o.box) >= threshold
        ]
        if not candidates:
            score.false_alarms += 1
            score.spurious.append(f"{photo.name}: {label} at {[int(v) for v in box]}")
            continue
        _, _, best = min(candidates)
        matched.add(best)
        if not photo.objects[best].optional:
            score.hits += 1
    score.missed = [
        f"{photo.name}: {o.label} at {list(o.box)}"
        for i, o in enumerate(photo.objects)
        if not o.optional and i not in matched
    ]
    return score
