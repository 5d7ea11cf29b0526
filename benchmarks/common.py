"""What every benchmark shares: its command line's common options, and writing its figures."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pipeline_common.environment import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "benchmarks" / "results"


def argument_parser(doc: str, name: str, verbose_help: str = "debug logging") -> argparse.ArgumentParser:
    """The benchmark `benchmarks.<name>`'s command line: the module's docstring as help (its
    first paragraph as the description), --json and -v."""
    summary, _, details = doc.partition("\n\n")
    parser = argparse.ArgumentParser(
        prog=f"python -m benchmarks.{name}", description=summary, epilog=details,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", type=Path, default=RESULTS / f"{name}.json",
                        help="where the figures are written (default: %(default)s)")
    parser.add_argument("-v", "--verbose", action="store_true", help=verbose_help)
    return parser


def save_figures(path: Path, figures: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2, default=str))  # str: paths, times
    print(f"figures written to {path}")


def table(columns: list[tuple[str, int]], rows: list[list[str]]) -> str:
    """Right-aligned columns under their headings: `columns` is [(heading, width)], each row
    holds the already formatted cells."""
    lines = [[heading for heading, _ in columns], *rows]
    return "\n".join(" ".join(f"{cell:>{width}}" for cell, (_, width) in zip(line, columns, strict=True))
                     for line in lines)
