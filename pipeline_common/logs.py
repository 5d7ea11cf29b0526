"""Logging set-up, called once by each entry point's `main`."""

from __future__ import annotations

import logging

# Client libraries that log every request at INFO, which drowns the pipeline's own lines.
CHATTY_LOGGERS = ("elastic_transport", "botocore", "boto3", "s3transfer", "urllib3", "PIL", "watchdog")


def configure_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    if not verbose:
        for name in CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
