"""Entry point: `python producer/main_producer.py {prepare,publish,run,watch,backfill} --help`."""
from __future__ import annotations

import logging
import sys

from pipeline_common.environment import SettingsError
from pipeline_common.logs import configure_logging
from producer.cli import USAGE, build_parser, dispatch, load_settings
from producer.clients import Clients

log = logging.getLogger("producer")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        settings = load_settings(args)
    except SettingsError as error:
        log.error("configuration: %s", error)
        return USAGE
    log.debug("settings: %s", settings)
    return dispatch(args, settings, Clients(settings))


if __name__ == "__main__":
    sys.exit(main())
