"""What every stage shares is written once (README, "How the code is laid out"): S3's
listing calls and error codes only in `pipeline_common/s3.py`, the epoch and the clock
only in `pipeline_common/timestamps.py`; and a client handed to a stage's code is typed by
what the code needs of it (a Protocol, or the library's class), never `object` or left bare."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import pkgutil
import tomllib
from functools import cache
from pathlib import Path
from typing import Callable

import pytest

from pipeline_common import s3
from pipeline_common.environment import PROJECT_ROOT

SETUPTOOLS = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
ROOTS = sorted({name.split(".")[0] for name in SETUPTOOLS["packages"]})


def package_dir(name: str) -> Path:
    return PROJECT_ROOT / SETUPTOOLS["package-dir"].get(name, name)


@cache
def modules() -> dict[str, ast.Module]:
    """The installed packages' modules, parsed: path from the checkout -> tree."""
    found = {}
    for root in ROOTS:
        for path in sorted(package_dir(root).rglob("*.py")):
            if "node_modules" not in path.parts:
                found[path.relative_to(PROJECT_ROOT).as_posix()] = ast.parse(path.read_text())
    return found


def written_in(matches: Callable[[ast.AST], bool]) -> list[str]:
    """The modules with a node (code, not a comment) that `matches`."""
    return sorted(path for path, tree in modules().items() if any(matches(node) for node in ast.walk(tree)))


def test_only_the_shared_module_calls_s3_listing():
    def lists(node: ast.AST) -> bool:
        return isinstance(node, ast.Attribute) and node.attr in ("list_objects_v2", "get_paginator")

    assert written_in(lists) == ["pipeline_common/s3.py"]


S3_CODES = sorted(
    code
    for code in s3.NOT_FOUND_CODES | s3.NO_BUCKET_CODES | s3.DENIED_CODES | s3.TRANSIENT_CODES
    if not code.isdigit()
)


@pytest.mark.parametrize("code", S3_CODES)
def test_only_the_shared_module_spells_an_s3_error_code(code):
    def spells(node: ast.AST) -> bool:
        return isinstance(node, ast.Constant) and node.value == code

    assert written_in(spells) == ["pipeline_common/s3.py"]


def test_the_epoch_is_written_once():
    def epoch(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) == "datetime"
            and bool(node.args)
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == 1970
        )

    assert written_in(epoch) == ["pipeline_common/timestamps.py"]


def test_the_clock_is_read_in_one_place():
    def reads_the_clock(node: ast.AST) -> bool:
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            return False
        owner = node.func.value
        return node.func.attr in ("now", "utcnow") and getattr(owner, "id", getattr(owner, "attr", None)) == "datetime"

    assert written_in(reads_the_clock) == ["pipeline_common/timestamps.py"]


def dataclasses_of_the_packages() -> list[type]:
    found = []
    for root in ROOTS:
        package = importlib.import_module(root)
        names = [root, *(m.name for m in pkgutil.walk_packages(package.__path__, f"{root}."))]
        for name in names:
            if name.endswith("__main__"):  # running it would start the stage
                continue
            module = importlib.import_module(name)
            found += [
                value
                for value in vars(module).values()
                if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == name
            ]
    return found


def test_no_field_of_a_stage_is_typed_object():
    untyped = [
        f"{cls.__module__}.{cls.__qualname__}.{field.name}"
        for cls in dataclasses_of_the_packages()
        for field in dataclasses.fields(cls)
        if field.type in (object, "object")
    ]
    assert untyped == []


CLIENTS = ("s3", "es", "producer", "consumer", "admin")  # the names a client is passed under


def test_every_client_a_function_takes_is_typed():
    untyped = sorted(
        f"{path}:{node.lineno} {node.name}({argument.arg})"
        for path, tree in modules().items()
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for argument in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)
        if argument.arg in CLIENTS and argument.annotation is None
    )
    assert untyped == []
