"""What the stages' command lines share: help from the module's docstring, and the limits
that turn a Kafka consumer stage into a batch run."""

from __future__ import annotations

import argparse


def stage_parser(prog: str, doc: str) -> argparse.ArgumentParser:
    """A command line named `prog` whose help is the module docstring `doc`: its first
    paragraph as the description, the rest (behaviour, exit codes) after the options."""
    summary, _, details = doc.partition("\n\n")
    parser = argparse.ArgumentParser(
        prog=prog, description=summary, epilog=details, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def add_run_limits(parser: argparse.ArgumentParser, item: str) -> None:
    """--max-messages and --idle-timeout; `item` names what a message is (image, event)."""
    parser.add_argument("--max-messages", type=_at_least_one, metavar="N", help=f"stop after handling N {item}s")
    parser.add_argument(
        "--idle-timeout",
        type=_positive,
        metavar="S",
        help=f"stop once no {item} arrived for S seconds after partitions were assigned (topic drained)",
    )
