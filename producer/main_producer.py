"""Entry point: `python producer/main_producer.py {prepare,publish,run,watch,backfill} --help`."""
from __future__ import annotations

import logging
import sys

from pipeline_common.environment import SettingsError, read_environment
from pipeline_common.logs import configure_logging
from producer.cli import USAGE, build_parser, dispatch, with_overrides
from producer.clients import Clients
from producer.settings import ProducerSettings

log = logging.getLogger("producer")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        settings = with_overrides(ProducerSettings.from_env(read_environment(), services=args.command != "prepare"), args)
    except SettingsError as error:
        log.error("configuration: %s", error)
        return USAGE
    log.debug("settings: %s", settings)
    return dispatch(args, settings, Clients(settings))


if __name__ == "__main__":
    sys.exit(main())
