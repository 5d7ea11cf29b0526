"""One way into each stage, three doors: the console script, `python -m <package>` and the
original script path print the same --help, from any working directory."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pipeline_common.environment import PROJECT_ROOT

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
# console script -> (module for `python -m`, original script path or None)
DOORS = {
    "image-producer": ("producer", "producer/main_producer.py"),
    "object-detector": ("consumer", "consumer/main_consumer.py"),
    "download-detector-model": ("consumer.helpers.download_models", "consumer/helpers/download_models.py"),
    "convert-detector-model": ("consumer.onnx_backend", None),
    "count-aggregation": ("hadoop", "hadoop/run_aggregation.py"),
    "count-indexer": ("es_indexer", "elasticsearch/index_hadoop_output.py"),
    "live-indexer": ("es_live", "elasticsearch/index_live_detections.py"),
    "detection-archiver": ("archiver", None),
    "count-dashboard": ("simple_frontend", "simple_frontend/app.py"),
    "local-services": ("local_services", None),
    "batch-scheduler": ("scheduler", None),
}


def help_text(command: list[str], cwd: Path) -> str:
    env = {"PATH": "/usr/bin:/bin", "PIPELINE_DOTENV": "/nonexistent", "COLUMNS": "100"}
    result = subprocess.run([*command, "--help"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def test_every_console_script_is_checked_here():
    assert set(PYPROJECT["project"]["scripts"]) == set(DOORS)


@pytest.mark.process
@pytest.mark.parametrize("script", sorted(DOORS))
def test_the_three_doors_show_the_same_help(script, tmp_path):
    module, path = DOORS[script]
    by_script = help_text([str(Path(sys.executable).with_name(script))], tmp_path)
    assert by_script.startswith(f"usage: {script} ")
    assert help_text([sys.executable, "-m", module], tmp_path) == by_script
    if path is not None:
        assert help_text([sys.executable, str(PROJECT_ROOT / path)], tmp_path) == by_script


@pytest.mark.process
def test_the_demo_runs_as_a_module_of_the_checkout():
    assert help_text([sys.executable, "-m", "scripts.demo"], PROJECT_ROOT).startswith("usage: python -m scripts.demo")


def test_every_package_in_the_tree_is_declared_once():
    options = PYPROJECT["tool"]["setuptools"]
    roots = {
        name: PROJECT_ROOT / options["package-dir"].get(name, name) for name in options["packages"] if "." not in name
    }
    found = set()
    for name, folder in roots.items():
        for init in folder.rglob("__init__.py"):
            if "node_modules" in init.parts:
                continue
            found.add(".".join([name, *init.parent.relative_to(folder).parts]))
    assert found == set(options["packages"])


def test_the_elasticsearch_folder_never_shadows_the_client():
    assert not (PROJECT_ROOT / "elasticsearch" / "__init__.py").exists()
    spec = importlib.util.find_spec("elasticsearch")
    assert Path(spec.origin).parent.parent != PROJECT_ROOT
