"""The one place that reads the process environment and the project's `.env` file.

Every settings object of the project is a `Settings` (pydantic-settings): each variable is
one field that declares its name (the field's `alias`, the environment variable), type,
default, check and help (`description`). A stage's `main` builds its settings once with
`TheSettings.from_env(**command_line_values)`: the environment wins over `.env`
(`PIPELINE_DOTENV` names another file) and the command line wins over both. Tests build
them from a mapping instead, `TheSettings.from_env({"S3_ACCESS_KEY": ...})`, without
touching `os.environ`. Nothing else in the project reads `os.environ`.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any, Self

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    InitSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources import DefaultSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DOTENV = PROJECT_ROOT / ".env"


def dotenv_path() -> Path:
    """The `.env` file read besides the environment: `PIPELINE_DOTENV`, else the checkout's."""
    return Path(os.environ.get("PIPELINE_DOTENV") or DEFAULT_DOTENV)


def read_environment(dotenv: Path | None = None) -> dict[str, str]:
    """Every variable of `.env` overlaid by the real environment (the environment wins, so a
    deployment can override any value without editing the file), as one mapping: for the
    tests' fixtures and for what passes the environment on (`Settings.from_env(mapping)`)."""
    path = dotenv or dotenv_path()
    values: dict[str, str] = {}
    if path.is_file():
        values.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    values.update(os.environ)
    return values


def child_environment(**changes: str) -> dict[str, str]:
    """This process's environment with `changes`, for a child process (a server started
    by a benchmark, a stage run by a test): what it passes on, not a setting read here."""
    return {**os.environ, **changes}


def system_variable(name: str, description: str) -> Any:
    """A field for a variable of the operating system (PATH, LANG, JAVA_HOME): read like
    the project's own, but documented by the system, not in `.env.example`."""
    return Field(None, alias=name, description=description, json_schema_extra={"system": True})


def is_system_variable(field: FieldInfo) -> bool:
    return isinstance(field.json_schema_extra, dict) and bool(field.json_schema_extra.get("system"))


class SettingsError(ValueError):
    """Settings are missing or malformed; the message names every variable concerned.

    `problems` are sentences ("PRODUCER_VIDEO_FPS must be more than 0, got '0'"),
    `missing` the variables that are not set (told once, with where to set them). A check
    across fields (a model validator) may raise one too: its parts are kept as they are."""

    def __init__(self, *problems: str, missing: Collection[str] = ()) -> None:
        self.problems, self.missing = list(problems), list(missing)
        super().__init__(self._message())

    def _message(self) -> str:
        parts = list(self.problems)
        if len(self.missing) == 1:
            parts.append(f"{self.missing[0]} is not set: add it to .env (see .env.example) or the environment")
        elif self.missing:
            names = f"{', '.join(self.missing[:-1])} and {self.missing[-1]}"
            parts.append(f"{names} are not set: add them to .env (see .env.example) or the environment")
        return "; ".join(parts)

    @classmethod
    def merge(cls, errors: Iterable[SettingsError]) -> SettingsError:
        problems, missing = [], []
        for error in errors:
            problems += [p for p in error.problems if p not in problems]
            missing += [m for m in error.missing if m not in missing]
        return cls(*problems, missing=missing)


def _cleaned(values: Mapping[str, str | None]) -> dict[str, str]:
    """Values without surrounding blanks."""
    return {name: value.strip() for name, value in values.items() if value is not None}


# For a field whose empty value means something ("no full recount"), not "the default".
EMPTY_IS_A_VALUE = {"empty_is_a_value": True}


def _empty_is_a_value(field: FieldInfo) -> bool:
    return isinstance(field.json_schema_extra, dict) and bool(field.json_schema_extra.get("empty_is_a_value"))


class _DeclaredOnly:
    """A field is read from the environment only if it declares its variable (`alias`);
    fields without one (a run id, mrjob's extra arguments) come from the command line."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        if field.alias is None:
            return None, field_name, False
        value, key, is_complex = super().get_field_value(field, field_name)  # type: ignore[misc]
        if value == "" and not _empty_is_a_value(field):
            value = None  # `NAME=` (or blanks) means "use the default"
        return value, key, is_complex

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return _cleaned(super()._load_env_vars())  # type: ignore[misc]


class _Environment(_DeclaredOnly, EnvSettingsSource):
    """The process environment."""


class _DotEnv(_DeclaredOnly, DotEnvSettingsSource):
    """The `.env` file (python-dotenv's syntax)."""


class _Mapping(_DeclaredOnly, EnvSettingsSource):
    """An explicit mapping, parsed exactly like the environment."""

    def __init__(self, settings_cls: type[BaseSettings], mapping: Mapping[str, str]) -> None:
        self._mapping = mapping
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return _cleaned(parse_env_vars(dict(self._mapping), self.case_sensitive, False, self.env_parse_none_str))


class Settings(BaseSettings):
    """Base of every settings object: frozen, secrets hidden from `repr`, values read only
    through `from_env`. Constructing one directly (`S3Settings(access_key=..., ...)`) uses
    the given values and the declared defaults, nothing else, like a dataclass."""

    model_config = SettingsConfigDict(
        frozen=True,
        case_sensitive=True,  # S3_BUCKET, exactly as .env.example spells it
        validate_by_name=True,  # construction and command-line values use field names
        validate_by_alias=True,
        extra="ignore",
        env_ignore_empty=False,  # `NAME=` means "use the default" unless EMPTY_IS_A_VALUE (see _DeclaredOnly)
        dotenv_filtering="only_existing",
        str_strip_whitespace=True,
        hide_input_in_errors=True,
    )

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        return (init_settings,)  # sources are chosen by `from_env`

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, /, *, without: Collection[str] = (), **overrides: Any
    ) -> Self:
        """The settings from `env`, by default the process environment over `.env`.

        `overrides` are values by field name that win over `env`, e.g. from the command
        line; None means "not given". A nested settings field takes a settings object or a
        dict of overrides for it; the ones named in `without` are left None (the producer's
        `prepare` needs no S3 or Kafka credentials). Raises `SettingsError` naming every
        variable that is missing or malformed."""
        given = {name: value for name, value in overrides.items() if value is not None}
        unknown = sorted(set(given) - set(cls.model_fields))
        if unknown:
            raise TypeError(f"{cls.__name__} has no field(s) {', '.join(unknown)}")
        errors: list[SettingsError] = []
        failed: set[str] = set()
        for name, nested in cls._nested_settings().items():
            if name in without:
                given[name] = None
            elif name not in given or isinstance(given[name], Mapping):
                try:
                    given[name] = nested.from_env(env, **dict(given.get(name) or {}))
                except SettingsError as error:
                    errors.append(error)
                    failed.add(name)
                    given.pop(name, None)
        if env is None:
            sources = (_Environment(cls), _DotEnv(cls, env_file=dotenv_path()))
        else:
            sources = (_Mapping(cls, env),)
        built = (InitSettingsSource(cls, init_kwargs=given), *sources, DefaultSettingsSource(cls))
        try:
            settings = cls(_build_sources=(built, given))
        except ValidationError as error:
            # still check the class's own fields when a nested one failed, so one run
            # names every problem; its "missing" is the nested failure already told
            errors.append(cls.describe(error, ignore=failed))
            settings = None
        if errors:
            raise SettingsError.merge(errors)
        return settings

    def replace(self, **changes: Any) -> Self:
        """A copy with `changes` (by field name), checked like the original."""
        try:
            return type(self).model_validate({**dict(self), **changes})
        except ValidationError as error:
            raise type(self).describe(error) from None

    @classmethod
    def variables(cls) -> dict[str, FieldInfo]:
        """The environment variables this class reads itself (not its nested settings)."""
        return {field.alias: field for field in cls.model_fields.values() if field.alias}

    @classmethod
    def _nested_settings(cls) -> dict[str, type[Settings]]:
        nested = {}
        for name, field in cls.model_fields.items():
            annotation = field.annotation
            options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
            for option in options:
                if isinstance(option, type) and issubclass(option, Settings):
                    nested[name] = option
        return nested

    @classmethod
    def describe(cls, error: ValidationError, ignore: Collection[str] = ()) -> SettingsError:
        """pydantic's errors as a SettingsError naming the variables (never a secret's value).
        Errors about the fields in `ignore` are left out."""
        parts = []
        for detail in error.errors(include_url=False):
            field_name, field = _field_at(cls, detail["loc"])
            if field_name in ignore or detail["type"] == "default_factory_not_called":
                continue  # told elsewhere / a consequence of another error
            parts.append(_explain(detail, field_name, field))
        return SettingsError.merge(parts)


def _field_at(cls: type[Settings], location: tuple) -> tuple[str | None, FieldInfo | None]:
    if not location:
        return None, None
    key = str(location[0])
    for name, field in cls.model_fields.items():
        if key in (name, field.alias):
            return name, field
    return key, None


def _explain(detail: Mapping[str, Any], field_name: str | None, field: FieldInfo | None) -> SettingsError:
    kind, context = detail["type"], detail.get("ctx") or {}
    cause = context.get("error")
    if isinstance(cause, SettingsError):  # a check across fields says it all itself
        return cause
    # a value from the environment is named by its variable, one from the command line
    # or a direct construction by the field's name in words: "fetch threads"
    key = str(detail["loc"][0]) if detail["loc"] else ""
    subject = key if key.isupper() else key.replace("_", " ")
    if kind == "missing" or (kind == "value_error" and str(cause) == "is not set"):
        return SettingsError(missing=[subject])
    if kind in {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}:
        words = {
            "greater_than_equal": "at least",
            "greater_than": "more than",
            "less_than_equal": "at most",
            "less_than": "less than",
        }[kind]
        text = f"must be {words} {next(iter(context.values()))}"
    elif kind in {"literal_error", "enum"}:
        text = f"must be one of {context.get('expected')}"
    elif kind == "value_error":
        text = str(cause) if cause is not None else detail["msg"]
    else:
        text = detail["msg"][0].lower() + detail["msg"][1:]
    if not subject:
        return SettingsError(text)
    secret = field is not None and _is_secret(field)
    shown = "" if secret or "input" not in detail else f", got {detail['input']!r}"
    joiner = " " if text.startswith(("must ", "is ")) else ": "
    return SettingsError(f"{subject}{joiner}{text}{shown}")


def _is_secret(field: FieldInfo) -> bool:
    annotation = field.annotation
    options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    return SecretStr in options
