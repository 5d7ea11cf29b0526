"""YOLO object detection (Darknet cfg + weights) on OpenCV DNN, or on onnxruntime.

`postprocess` turns raw network output into a validated `Detections` object and is a
pure function; `Detector` wraps a runtime around it. `Detector.prepare` (resize into
the network's input) may run in any thread; `Detector.infer` uses the runtime, which
is not thread-safe for OpenCV: call it from one thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence

import cv2
import numpy as np

from pipeline_common.contracts import Detection, ModelInfo, canonical_label

from .models import ModelFiles, read_class_names
from .settings import DetectorConfig


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Detections:
    """Objects found in one image, best first. Boxes are [x, y, w, h] in pixels of the
    image, inside it, with w, h >= 1. No detections is an empty object, never None."""

    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        boxes = np.array(self.boxes, dtype=np.int32).reshape(-1, 4)
        scores = np.array(self.scores, dtype=np.float32).reshape(-1)
        class_ids = np.array(self.class_ids, dtype=np.int32).reshape(-1)
        labels = tuple(self.labels)
        count = len(boxes)
        if not (len(scores) == len(class_ids) == len(labels) == count):
            raise ValueError(
                f"detections disagree in length: {count} boxes, {len(scores)} scores, "
                f"{len(class_ids)} class ids, {len(labels)} labels"
            )
        if count:
            if np.any(boxes[:, :2] < 0) or np.any(boxes[:, 2:] < 1):
                raise ValueError("boxes must have x, y >= 0 and width, height >= 1")
            if np.any(scores < 0) or np.any(scores > 1) or np.any(np.isnan(scores)):
                raise ValueError("scores must lie in [0, 1]")
            if np.any(class_ids < 0):
                raise ValueError("class ids must not be negative")
        object.__setattr__(self, "boxes", _frozen(boxes))
        object.__setattr__(self, "scores", _frozen(scores))
        object.__setattr__(self, "class_ids", _frozen(class_ids))
        object.__setattr__(self, "labels", labels)

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.empty((0, 4)), np.empty(0), np.empty(0), ())

    def __len__(self) -> int:
        return len(self.labels)

    def __iter__(self) -> Iterator[Detection]:
        return iter(self.to_records())

    def to_records(self) -> tuple[Detection, ...]:
        return tuple(
            Detection(
                label=label,
                class_id=int(class_id),
                confidence=float(score),
                box=tuple(int(v) for v in box),
            )
            for box, score, class_id, label in zip(self.boxes, self.scores, self.class_ids, self.labels, strict=True)
        )


def postprocess(
    outputs: Sequence[np.ndarray],
    image_width: int,
    image_height: int,
    class_names: Sequence[str],
    confidence_threshold: float,
    nms_threshold: float,
) -> Detections:
    """Raw YOLO output -> Detections.

    Each output row is [cx, cy, w, h, objectness, score per class], coordinates relative
    to the network input (OpenCV already multiplies class scores by objectness). A row's
    class is its best-scoring one; rows under `confidence_threshold` are dropped; boxes
    are clipped to the image; non-maximum suppression runs per class, so a dog and the
    bicycle it stands on both survive."""
    if image_width < 1 or image_height < 1:
        raise ValueError(f"image size must be positive, got {image_width}x{image_height}")
    columns = 5 + len(class_names)
    arrays = [np.asarray(output, dtype=np.float32) for output in outputs]
    for array in arrays:
        if array.size and array.shape[-1] != columns:
            raise ValueError(
                f"network output has {array.shape[-1]} columns, expected {columns} "
                f"(5 + {len(class_names)} classes): do the cfg and the names file match?"
            )
    rows = np.concatenate([a.reshape(-1, columns) for a in arrays]) if arrays else np.empty((0, columns))
    if not len(rows):
        return Detections.empty()

    class_scores = rows[:, 5:]
    class_ids = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(rows)), class_ids]
    keep = scores >= confidence_threshold
    rows, class_ids, scores = rows[keep], class_ids[keep], scores[keep]

    cx, cy = rows[:, 0] * image_width, rows[:, 1] * image_height
    half_w, half_h = rows[:, 2] * image_width / 2, rows[:, 3] * image_height / 2
    x0 = np.clip(np.rint(cx - half_w), 0, image_width)
    y0 = np.clip(np.rint(cy - half_h), 0, image_height)
    x1 = np.clip(np.rint(cx + half_w), 0, image_width)
    y1 = np.clip(np.rint(cy + half_h), 0, image_height)
    boxes = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1).astype(np.int32)
    visible = (boxes[:, 2] >= 1) & (boxes[:, 3] >= 1)  # boxes entirely outside the image
    boxes, class_ids, scores = boxes[visible], class_ids[visible], scores[visible]
    if not len(boxes):
        return Detections.empty()

    kept = np.asarray(
        cv2.dnn.NMSBoxesBatched(boxes, scores, class_ids.astype(np.int32), confidence_threshold, nms_threshold),
        dtype=np.int64,
    ).reshape(-1)
    kept = kept[np.argsort(-scores[kept], kind="stable")]
    return Detections(
        boxes=boxes[kept],
        scores=np.clip(scores[kept], 0.0, 1.0),
        class_ids=class_ids[kept],
        labels=tuple(class_names[i] for i in class_ids[kept]),
    )


@dataclass(frozen=True, eq=False)
class Blob:
    """One image made ready for the network (resized, scaled, RGB, NCHW float32): made
    in a worker thread so the detection thread only runs the network."""

    array: np.ndarray
    width: int  # of the original image, to map boxes back onto it
    height: int


class Runner(Protocol):
    """A runtime that runs the network: OpenCVRunner below, onnx_backend.OnnxRunner."""

    runtime: str

    def forward(self, blob: np.ndarray) -> Sequence[np.ndarray]: ...


class ObjectDetector(Protocol):
    """What processing needs of a detector: `Detector` below, or a test's fake."""

    model_info: ModelInfo

    def prepare(self, image: np.ndarray) -> Blob: ...

    def infer(self, blob: Blob) -> Detections: ...


class OpenCVRunner:
    """OpenCV DNN (the original design's runtime). One `cv2.dnn.Net` is not thread-safe."""

    def __init__(self, net):
        self._net = net
        self._output_names = net.getUnconnectedOutLayersNames()
        self.runtime = f"opencv-dnn {cv2.__version__}"

    @classmethod
    def load(cls, files: ModelFiles) -> "OpenCVRunner":
        net = cv2.dnn.readNetFromDarknet(str(files.cfg), str(files.weights))
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        return cls(net)

    def forward(self, blob: np.ndarray) -> Sequence[np.ndarray]:
        self._net.setInput(blob)
        return self._net.forward(self._output_names)


class Detector:
    """A model on a runtime: `prepare` (any thread) -> `infer` (the detector's thread)."""

    def __init__(self, runner: Runner, class_names: Sequence[str], config: DetectorConfig, files: ModelFiles):
        self._runner = runner
        # one label set for every model: darknet's "motorbike" is reported as "motorcycle"
        self.class_names = tuple(canonical_label(name) for name in class_names)
        self.config = config
        self.model_info = ModelInfo(
            name=files.name,
            input_size=config.input_size,
            confidence_threshold=config.confidence_threshold,
            nms_threshold=config.nms_threshold,
            files_sha256=dict(files.sha256),
            runtime=runner.runtime,
        )

    @classmethod
    def load(cls, files: ModelFiles, config: DetectorConfig, runner: Runner | None = None) -> "Detector":
        """On OpenCV DNN unless another runner (e.g. onnx_backend.OnnxRunner) is given."""
        return cls(runner or OpenCVRunner.load(files), read_class_names(files.names), config, files)

    def prepare(self, image: np.ndarray) -> Blob:
        """An 8-bit BGR image of shape (height, width, 3) -> the network's input.
        Thread-safe: it touches no network state."""
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            shape = getattr(image, "shape", None)
            dtype = getattr(image, "dtype", type(image).__name__)
            raise ValueError(f"expected an 8-bit BGR image (h, w, 3), got shape {shape} dtype {dtype}")
        height, width = image.shape[:2]
        size = self.config.input_size
        # Plain resize (no letterbox), as darknet's own demo does: box coordinates
        # relative to the input map straight back onto the original image.
        blob = cv2.dnn.blobFromImage(image, 1 / 255.0, (size, size), swapRB=True, crop=False)
        return Blob(blob, width, height)

    def infer(self, blob: Blob) -> Detections:
        outputs = self._runner.forward(blob.array)
        return postprocess(
            outputs,
            blob.width,
            blob.height,
            self.class_names,
            self.config.confidence_threshold,
            self.config.nms_threshold,
        )

    def detect(self, image: np.ndarray) -> Detections:
        """Objects in an 8-bit BGR image of shape (height, width, 3)."""
        return self.infer(self.prepare(image))
