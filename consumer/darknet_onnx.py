"""Darknet cfg + weights -> an ONNX graph whose outputs are exactly what OpenCV's Darknet
importer produces, so one `postprocess` serves both runtimes.

Supported layers are those of the tiny YOLO models: convolutional (batch norm folded
into the weights; leaky / linear / logistic activation), maxpool, route (several
inputs, or one input's channel group: `groups` / `group_id`), upsample and yolo.
Anything else is refused with the layer's name and index.

A yolo head becomes rows of [cx, cy, w, h, objectness, class scores] relative to the
network input, one row per (cell y, cell x, anchor), in OpenCV's order; class scores
are sigmoid(class) * objectness, zeroed at or under the layer's `thresh` (0.2 unless
the cfg says otherwise), as in OpenCV's region layer (`modules/dnn/src/layers/
region_layer.cpp`). Batch norm uses OpenCV's epsilon (1e-6).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CONVERTER_VERSION = 1  # part of the cache key: bump when the graph it builds changes
OPSET = 13
BN_EPSILON = 1e-6
INPUT_NAME = "image"


class ConversionError(ValueError):
    """The cfg or weights cannot be converted."""


@dataclass
class Section:
    kind: str
    options: dict[str, str] = field(default_factory=dict)

    def integer(self, key: str, default: int | None = None) -> int:
        if key not in self.options:
            if default is None:
                raise ConversionError(f"[{self.kind}] needs {key}=")
            return default
        return int(self.options[key])

    def number(self, key: str, default: float) -> float:
        return float(self.options[key]) if key in self.options else default

    def integers(self, key: str) -> list[int]:
        return [int(v) for v in self.options.get(key, "").split(",") if v.strip()]


def parse_cfg(text: str) -> list[Section]:
    sections: list[Section] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        header = re.fullmatch(r"\[(\w+)\]", line)
        if header:
            sections.append(Section(header.group(1)))
        elif "=" in line and sections:
            key, value = line.split("=", 1)
            sections[-1].options[key.strip()] = value.strip()
        else:
            raise ConversionError(f"cannot read cfg line {raw!r}")
    if not sections or sections[0].kind != "net":
        raise ConversionError("a Darknet cfg starts with a [net] section")
    return sections


class WeightsReader:
    def __init__(self, data: bytes):
        if len(data) < 16:
            raise ConversionError("weights file too short for a Darknet header")
        major, minor, _revision = np.frombuffer(data, np.int32, 3)
        if major > 1000 or minor > 1000:
            raise ConversionError("transposed Darknet weights are not supported")
        self._offset = 12 + (8 if major * 10 + minor >= 2 else 4)  # images seen: int64 or int32
        self._data = data

    def take(self, count: int) -> np.ndarray:
        end = self._offset + 4 * count
        if end > len(self._data):
            raise ConversionError("weights file ends early: does it belong to this cfg?")
        values = np.frombuffer(self._data, np.float32, count, self._offset)
        self._offset = end
        return values

    def left(self) -> int:
        return len(self._data) - self._offset


@dataclass
class Layer:
    output: str
    channels: int
    height: int
    width: int


class GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def constant(self, stem: str, value: np.ndarray) -> str:
        name = self.name(stem)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], stem: str, **attributes) -> str:
        output = self.name(stem)
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output


def _convolutional(g: GraphBuilder, section: Section, source: Layer, weights: WeightsReader, index: int) -> Layer:
    filters, size = section.integer("filters"), section.integer("size")
    stride, groups = section.integer("stride", 1), section.integer("groups", 1)
    padding = size // 2 if section.integer("pad", 0) else section.integer("padding", 0)
    if source.channels % groups:
        raise ConversionError(f"layer {index}: {source.channels} channels do not split into {groups} groups")
    bias = weights.take(filters)
    if section.integer("batch_normalize", 0):
        scale, mean, variance = weights.take(filters), weights.take(filters), weights.take(filters)
    kernel = weights.take(filters * (source.channels // groups) * size * size).reshape(
        filters, source.channels // groups, size, size
    )
    if section.integer("batch_normalize", 0):
        factor = scale / np.sqrt(variance + BN_EPSILON)
        kernel = kernel * factor[:, None, None, None]
        bias = bias - mean * factor
    out = g.node(
        "Conv",
        [source.output, g.constant("w", kernel.astype(np.float32)), g.constant("b", bias.astype(np.float32))],
        f"conv{index}",
        kernel_shape=[size, size],
        strides=[stride, stride],
        pads=[padding] * 4,
        group=groups,
    )
    activation = section.options.get("activation", "linear")
    if activation == "leaky":
        out = g.node("LeakyRelu", [out], f"leaky{index}", alpha=0.1)
    elif activation == "logistic":
        out = g.node("Sigmoid", [out], f"logistic{index}")
    elif activation != "linear":
        raise ConversionError(f"layer {index}: activation {activation!r} is not supported")
    height = (source.height + 2 * padding - size) // stride + 1
    width = (source.width + 2 * padding - size) // stride + 1
    return Layer(out, filters, height, width)


def _maxpool(g: GraphBuilder, section: Section, source: Layer, index: int) -> Layer:
    size, stride = section.integer("size", 2), section.integer("stride", 2)
    padding = section.integer("padding", size - 1)
    before, after = padding // 2, padding - padding // 2  # as darknet and OpenCV: extra on the right
    out = g.node(
        "MaxPool",
        [source.output],
        f"maxpool{index}",
        kernel_shape=[size, size],
        strides=[stride, stride],
        pads=[before, before, after, after],
    )
    height = (source.height + padding - size) // stride + 1
    width = (source.width + padding - size) // stride + 1
    return Layer(out, source.channels, height, width)


def _route(g: GraphBuilder, section: Section, layers: list[Layer], index: int) -> Layer:
    sources = [layers[i if i >= 0 else index + i] for i in section.integers("layers")]
    if not sources:
        raise ConversionError(f"layer {index}: route without layers=")
    groups, group_id = section.integer("groups", 1), section.integer("group_id", 0)
    if groups > 1:
        if len(sources) != 1:
            raise ConversionError(f"layer {index}: a grouped route takes exactly one layer")
        source = sources[0]
        part = source.channels // groups
        out = g.node(
            "Slice",
            [
                source.output,
                g.constant("start", np.array([group_id * part], np.int64)),
                g.constant("end", np.array([(group_id + 1) * part], np.int64)),
                g.constant("axis", np.array([1], np.int64)),
            ],
            f"route{index}",
        )
        return Layer(out, part, source.height, source.width)
    if len(sources) == 1:
        return sources[0]
    if len({(s.height, s.width) for s in sources}) != 1:
        raise ConversionError(f"layer {index}: route joins maps of different sizes")
    out = g.node("Concat", [s.output for s in sources], f"route{index}", axis=1)
    return Layer(out, sum(s.channels for s in sources), sources[0].height, sources[0].width)


def _upsample(g: GraphBuilder, section: Section, source: Layer, index: int) -> Layer:
    stride = section.integer("stride", 2)
    scales = g.constant("scales", np.array([1, 1, stride, stride], np.float32))
    out = g.node(
        "Resize",
        [source.output, "", scales],
        f"upsample{index}",
        mode="nearest",
        coordinate_transformation_mode="asymmetric",
        nearest_mode="floor",
    )
    return Layer(out, source.channels, source.height * stride, source.width * stride)


def _yolo(g: GraphBuilder, section: Section, source: Layer, net_w: int, net_h: int, index: int) -> str:
    classes = section.integer("classes")
    anchors = np.array(section.integers("anchors") or [], np.float32).reshape(-1, 2)
    mask = section.integers("mask") or list(range(len(anchors)))
    used = anchors[mask]
    count, cell = len(mask), 5 + classes
    if source.channels != count * cell:
        raise ConversionError(f"layer {index}: yolo expects {count * cell} channels, got {source.channels}")
    if section.integer("new_coords", 0):
        raise ConversionError(f"layer {index}: new_coords=1 is not supported")
    scale_xy, thresh = section.number("scale_x_y", 1.0), section.number("thresh", 0.2)
    h, w = source.height, source.width
    rows = h * w * count

    x = g.node("Reshape", [source.output, g.constant("shape", np.array([1, count, cell, h, w], np.int64))], "yolo")
    x = g.node("Transpose", [x], "yolo", perm=[0, 3, 4, 1, 2])  # rows ordered (y, x, anchor), as OpenCV
    x = g.node("Reshape", [x, g.constant("shape", np.array([rows, cell], np.int64))], "yolo")

    def columns(start: int, end: int) -> str:
        return g.node(
            "Slice",
            [
                x,
                g.constant("start", np.array([start], np.int64)),
                g.constant("end", np.array([end], np.int64)),
                g.constant("axis", np.array([1], np.int64)),
            ],
            "yolo",
        )

    ys, xs, _ = np.meshgrid(np.arange(h), np.arange(w), np.arange(count), indexing="ij")
    grid = np.stack([xs.reshape(-1), ys.reshape(-1)], axis=1).astype(np.float32)
    xy = g.node("Sigmoid", [columns(0, 2)], "yolo")
    xy = g.node("Mul", [xy, g.constant("k", np.float32(scale_xy))], "yolo")
    xy = g.node("Add", [xy, g.constant("grid", grid + np.float32(0.5 - scale_xy / 2))], "yolo")
    xy = g.node("Div", [xy, g.constant("cells", np.array([w, h], np.float32))], "yolo")
    wh = g.node("Exp", [columns(2, 4)], "yolo")
    per_row = np.tile(used, (h * w, 1)) / np.array([net_w, net_h], np.float32)
    wh = g.node("Mul", [wh, g.constant("anchors", per_row.astype(np.float32))], "yolo")
    objectness = g.node("Sigmoid", [columns(4, 5)], "yolo")
    scores = g.node("Mul", [g.node("Sigmoid", [columns(5, cell)], "yolo"), objectness], "yolo")
    above = g.node("Greater", [scores, g.constant("thresh", np.float32(thresh))], "yolo")
    scores = g.node("Mul", [scores, g.node("Cast", [above], "yolo", to=TensorProto.FLOAT)], "yolo")
    return g.node("Concat", [xy, wh, objectness, scores], f"yolo{index}", axis=1)


def convert(cfg_text: str, weights_data: bytes) -> onnx.ModelProto:
    """The ONNX model of a Darknet network: input `image` (1x3xHxW float, RGB in [0, 1],
    as cv2.dnn.blobFromImage makes it), one output per yolo layer."""
    sections = parse_cfg(cfg_text)
    net = sections[0]
    net_w, net_h, channels = net.integer("width", 416), net.integer("height", 416), net.integer("channels", 3)
    weights = WeightsReader(weights_data)
    g = GraphBuilder()
    layers: list[Layer] = []
    outputs: list[tuple[str, int]] = []
    current = Layer(INPUT_NAME, channels, net_h, net_w)
    for index, section in enumerate(sections[1:]):
        if section.kind == "convolutional":
            current = _convolutional(g, section, current, weights, index)
        elif section.kind == "maxpool":
            current = _maxpool(g, section, current, index)
        elif section.kind == "route":
            current = _route(g, section, layers, index)
        elif section.kind == "upsample":
            current = _upsample(g, section, current, index)
        elif section.kind == "yolo":
            rows_cell = (
                current.height * current.width * len(section.integers("mask") or [0]),
                5 + section.integer("classes"),
            )
            outputs.append((_yolo(g, section, current, net_w, net_h, index), rows_cell[1]))
        else:
            raise ConversionError(f"layer {index}: [{section.kind}] is not supported")
        layers.append(current)
    if weights.left():
        raise ConversionError(f"{weights.left()} bytes of weights left over: does the file belong to this cfg?")
    if not outputs:
        raise ConversionError("the cfg has no [yolo] layer")
    graph = helper.make_graph(
        g.nodes,
        "darknet",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [1, channels, net_h, net_w])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, cell]) for name, cell in outputs],
        g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="image-pipeline")
    model.ir_version = 8  # readable by every onnxruntime that supports opset 13
    onnx.checker.check_model(model)
    return model


def convert_files(cfg: Path, weights: Path, target: Path) -> Path:
    """Convert and write atomically to `target`."""
    model = convert(cfg.read_text(encoding="utf-8"), weights.read_bytes())
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_bytes(model.SerializeToString())
    temporary.replace(target)
    return target
