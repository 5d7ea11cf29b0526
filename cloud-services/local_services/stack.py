"""The set of local services and the operations over all of them."""
from __future__ import annotations

import fcntl
import logging
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from .elasticsearch import Elasticsearch
from .hadoop import ensure_hadoop
from .kafka import Kafka
from .s3 import S3Server
from .service import Service, Status
from .settings import LocalSettings
from .traefik import Traefik

log = logging.getLogger(__name__)


NAMES = ("s3", "kafka", "elasticsearch", "traefik")


def services(settings: LocalSettings, names: Sequence[str] = ()) -> list[Service]:
    """In start order (S3 first: quick, and Hadoop's set-up needs it; the edge last, in
    front of the others); all when `names` is empty."""
    every = [S3Server(settings), Kafka(settings), Elasticsearch(settings), Traefik(settings)]
    return [service for service in every if not names or service.name in names]


@contextmanager
def locked(settings: LocalSettings) -> Iterator[None]:
    """One `up`/`down` at a time per local dir: several test sessions may call `up` at once."""
    settings.paths.run.mkdir(parents=True, exist_ok=True)
    with open(settings.paths.run / "stack.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another local_services command is running: waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def hadoop_home(settings: LocalSettings) -> Path:
    return settings.paths.local_dir / "hadoop"


def hadoop_installed(settings: LocalSettings) -> bool:
    return (hadoop_home(settings) / "bin" / "hadoop").is_file()


def up(settings: LocalSettings, env: Mapping[str, str],
       names: Sequence[str] = ()) -> list[tuple[str, str]]:
    settings.paths.create()
    done = []
    with locked(settings):
        for service in services(settings, names):
            log.info("%s: starting", service.name)
            done.append((service.name, service.up()))
            log.info("%s: ready", service.name)
        if names and "hadoop" not in names:
            return done
        # No process: a client install, configured for the S3 server started above.
        home = ensure_hadoop(env, settings.paths.cache_dir, hadoop_home(settings))
        done.append(("hadoop", f"installed in {home}"))
    return done


def down(settings: LocalSettings, wipe: bool = False,
         names: Sequence[str] = ()) -> list[tuple[str, int | None]]:
    stopped = []
    with locked(settings):
        for service in reversed(services(settings, names)):
            stopped.append((service.name, service.stop()))
        if wipe and names:
            for service in services(settings, names):
                shutil.rmtree(service.data_dir, ignore_errors=True)
                log.info("deleted %s", service.data_dir)
        elif wipe:
            for directory in (settings.paths.data, settings.paths.logs):
                shutil.rmtree(directory, ignore_errors=True)
            log.info("deleted %s and %s", settings.paths.data, settings.paths.logs)
    return stopped


def status(settings: LocalSettings) -> list[Status]:
    return [service.status() for service in services(settings)]


def all_ready(settings: LocalSettings) -> bool:
    return all(s.ready for s in status(settings))
