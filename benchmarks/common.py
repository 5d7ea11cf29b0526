"""What every benchmark shares: its command line's common options, and writing its figures."""

from __future__ import annotations

import argparse
import json
import logging
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any, TypeVar

from pipeline_common.environment import PROJECT_ROOT, Settings, SettingsError, read_environment

RESULTS = PROJECT_ROOT / "benchmarks" / "results"
S = TypeVar("S", bound=Settings)
log = logging.getLogger("benchmarks")


def argument_parser(doc: str, name: str, verbose_help: str = "debug logging") -> argparse.ArgumentParser:
    """The benchmark `benchmarks.<name>`'s command line: the module's docstring as help (its
    first paragraph as the description), --json and -v."""
    summary, _, details = doc.partition("\n\n")
    parser = argparse.ArgumentParser(
        prog=f"python -m benchmarks.{name}",
        description=summary,
        epilog=details,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=RESULTS / f"{name}.json",
        help="where the figures are written (default: %(default)s)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help=verbose_help)
    return parser


def configured(settings_type: type[S], **overrides: Any) -> tuple[dict[str, str], S]:
    """The environment (.env overlaid by the real one) and `settings_type` read from it with
    `overrides`; a configuration error is logged and ends the benchmark with exit code 2."""
    env = read_environment()
    try:
        return env, settings_type.from_env(env, **overrides)
    except SettingsError as error:
        log.error("configuration: %s", error)
        raise SystemExit(2) from None


def save_figures(path: Path, figures: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2, default=str))  # str: paths, times
    print(f"figures written to {path}")


def table(columns: list[tuple[str, int]], rows: list[list[str]]) -> str:
    """Right-aligned columns under their headings: `columns` is [(heading, width)], each row
    holds the already formatted cells."""
    lines = [[heading for heading, _ in columns], *rows]
    return "\n".join(
        " ".join(f"{cell:>{width}}" for cell, (_, width) in zip(line, columns, strict=True)) for line in lines
    )


def free_port() -> int:
    """A port nothing listens on right now, for a server the benchmark starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float) -> None:
    """Until `url` answers 200 (RuntimeError after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")


def stop(server: subprocess.Popen) -> None:
    """End a server the benchmark started: terminate, then kill after 15 s."""
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
