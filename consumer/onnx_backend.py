"""The optional onnxruntime backend (DETECTOR_BACKEND=onnxruntime): the same Darknet
files, converted once by `consumer.darknet_onnx` into an ONNX file cached beside the
downloaded models (DETECTOR_MODELS_DIR, git-ignored), named after the weights' and
cfg's digests and the converter's version, so a new model or converter converts again.

    convert-detector-model      # or python -m consumer.onnx_backend; make setup runs it
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from .darknet_onnx import CONVERTER_VERSION, INPUT_NAME, ConversionError, convert_files
from .models import ModelFiles, ModelNotFound

log = logging.getLogger(__name__)


def onnx_path(files: ModelFiles, cache_dir: Path) -> Path:
    return Path(cache_dir) / (
        f"{files.name}-{files.sha256['weights'][:12]}-{files.sha256['cfg'][:8]}-c{CONVERTER_VERSION}.onnx"
    )


def ensure_onnx(files: ModelFiles, cache_dir: Path) -> Path:
    """The converted model, converting it first if it is not cached yet."""
    target = onnx_path(files, cache_dir)
    if target.is_file() and target.stat().st_size > 0:
        return target
    log.info("converting %s to ONNX: %s", files.weights, target)
    try:
        return convert_files(files.cfg, files.weights, target)
    except ConversionError as error:
        raise ModelNotFound(f"cannot convert {files.name} to ONNX: {error}") from None


class OnnxRunner:
    def __init__(self, session):
        import onnxruntime

        self._session = session
        self._outputs = [output.name for output in session.get_outputs()]
        self.runtime = f"onnxruntime {onnxruntime.__version__}"

    @classmethod
    def load(cls, files: ModelFiles, cache_dir: Path, threads: int) -> "OnnxRunner":
        import onnxruntime  # optional: only this backend needs it

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        path = ensure_onnx(files, cache_dir)
        try:
            session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types for a bad file
            raise ModelNotFound(f"onnxruntime cannot load {path}: {error} (delete it to convert again)") from None
        return cls(session)

    def forward(self, blob: np.ndarray) -> Sequence[np.ndarray]:
        return self._session.run(self._outputs, {INPUT_NAME: blob})


def main(argv: list[str] | None = None) -> int:
    from pipeline_common.logs import configure_logging

    from .models import DEFAULT_MODEL, MODELS, resolve_model_files
    from .settings import DEFAULT_MODELS_DIR

    parser = argparse.ArgumentParser(
        prog="convert-detector-model",
        description="Convert a detector model's Darknet files to ONNX for DETECTOR_BACKEND=onnxruntime "
        "(cached; the consumer also converts on first use). Exit code 2 when the model's files are missing.",
    )
    parser.add_argument("--model", choices=sorted(MODELS), default=DEFAULT_MODEL, help=f"default {DEFAULT_MODEL}")
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR, help=f"default {DEFAULT_MODELS_DIR}")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        files = resolve_model_files(args.model, args.models_dir)
        path = ensure_onnx(files, args.models_dir)
    except ModelNotFound as error:
        log.error("%s", error)
        return 2
    log.info("%s ready for onnxruntime: %s", files.name, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
