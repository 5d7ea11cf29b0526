"""`.env.example` documents exactly the variables the code declares.

The variables are collected from the settings classes themselves: every `Settings`
subclass in the installed packages (pyproject.toml; all their modules are imported first), and the test
harness's own `HarnessSettings` in tests/conftest.py (PIPELINE_SERVICES: read only by the
tests, but a user sets it like any other, so it is documented in .env.example too).
Variables of the operating system that `local_services` passes on to the services
(PATH, LANG, JAVA_HOME, ...) are declared with `system_variable` and are not the
project's to document. PIPELINE_DOTENV names the file itself, so it cannot be a line of
it: the file's header mentions it instead.

A line `NAME=value` or a commented-out `# NAME=value` documents NAME.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import tomllib
from typing import Annotated

import pytest
from pydantic import TypeAdapter
from pydantic.fields import FieldInfo

from pipeline_common.environment import PROJECT_ROOT, Settings, is_system_variable

# every installed top-level package, as pyproject.toml declares them
PACKAGES = tuple(
    sorted(
        {
            name.split(".")[0]
            for name in tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
        }
    )
)
EXAMPLE = PROJECT_ROOT / ".env.example"
LINE = re.compile(r"^#?\s*(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")


def settings_classes() -> list[type[Settings]]:
    for package in PACKAGES:
        root = importlib.import_module(package)
        for module in pkgutil.walk_packages(root.__path__, f"{package}."):
            if not module.name.endswith("__main__"):  # running it would start the stage
                importlib.import_module(module.name)
    found, pending = [], list(Settings.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        module = cls.__module__
        if module.split(".")[0] in PACKAGES or module.rsplit(".", 1)[-1] == "conftest":
            found.append(cls)
    return found


def declared() -> dict[str, list[tuple[type[Settings], FieldInfo]]]:
    variables: dict[str, list[tuple[type[Settings], FieldInfo]]] = {}
    for cls in settings_classes():
        for name, field in cls.variables().items():
            if not is_system_variable(field):
                variables.setdefault(name, []).append((cls, field))
    return variables


def documented() -> dict[str, str]:
    values = {}
    for line in EXAMPLE.read_text().splitlines():
        match = LINE.match(line.strip())
        if match:
            value = match["value"].strip()
            quoted = len(value) >= 2 and value[0] == value[-1] and value[0] in "'\""
            values[match["name"]] = value[1:-1] if quoted else value
    return values


def test_every_declared_variable_is_documented():
    missing = sorted(set(declared()) - set(documented()))
    assert missing == [], f"declared in code but not in .env.example: {missing}"


def test_every_documented_variable_is_read_by_the_code():
    unread = sorted(set(documented()) - set(declared()))
    assert unread == [], f"in .env.example but declared by no settings class: {unread}"


def test_the_classes_of_every_stage_and_the_harness_were_found():
    modules = {cls.__module__.split(".")[0] for cls in settings_classes()}
    assert {
        "pipeline_common",
        "producer",
        "consumer",
        "hadoop",
        "es_indexer",
        "es_live",
        "simple_frontend",
        "scheduler",
        "local_services",
    } <= modules
    assert "PIPELINE_SERVICES" in declared()  # tests/conftest.py's HarnessSettings
    assert "PATH" not in declared()  # the system's, not ours


def test_every_variable_has_help_and_one_meaning():
    for name, uses in declared().items():
        for cls, field in uses:
            assert field.description, f"{cls.__name__}: {name} has no description"
        meanings = {(repr(field.default), field.default_factory, field.description) for _, field in uses}
        assert len(meanings) == 1, f"{name} is declared differently in {[cls.__name__ for cls, _ in uses]}"


def shown_defaults() -> list[str]:
    """Variables whose .env.example value should be the code's default. Left out: an empty
    value (it means the default), a value to set (`<generated>` secrets; KAFKA_USERNAME,
    required with SASL, so without a default) and computed defaults (paths)."""
    values, variables = documented(), declared()
    return sorted(
        name
        for name in set(values) & set(variables)
        if values[name] not in {"", "<generated>"}
        and not any(f.is_required() or f.default in (None, "") or f.default_factory for _, f in variables[name])
    )


@pytest.mark.parametrize("name", shown_defaults())
def test_documented_value_is_the_default(name):
    """What .env.example shows is what the code does without it."""
    cls, field = declared()[name][0]
    kind = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    adapter = TypeAdapter(kind)
    value = documented()[name]
    assert adapter.validate_python(value) == adapter.validate_python(field.default), (
        f"{name}: .env.example says {value!r}, {cls.__name__} defaults to {field.default!r}"
    )


def test_the_header_names_the_file_switch():
    assert "PIPELINE_DOTENV" in EXAMPLE.read_text().split("\n\n")[0]
