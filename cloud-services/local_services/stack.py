"""The set of local services and the operations over all of them."""

from __future__ import annotations

import fcntl
import logging
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from . import hadoop_cluster
from .elasticsearch import Elasticsearch
from .hadoop import ensure_hadoop
from .kafka import Kafka
from .s3 import S3Server
from .service import Service, Status
from .settings import LocalSettings
from .traefik import Traefik

log = logging.getLogger(__name__)


NAMES = ("s3", "kafka", "elasticsearch", "traefik")
CLUSTER = hadoop_cluster.GROUP  # the four daemons of the Hadoop cluster, by one name
SERVICE_NAMES = (*NAMES, *hadoop_cluster.NAMES)


def expand(names: Sequence[str]) -> list[str]:
    """Service names, with `hadoop-cluster` standing for its daemons."""
    return [one for name in names for one in (hadoop_cluster.NAMES if name == CLUSTER else [name])]


def services(settings: LocalSettings, names: Sequence[str] = (), everything: bool = False) -> list[Service]:
    """In start order (S3 first: quick, and Hadoop's set-up needs it; the edge after the
    services it fronts). With no `names`: the default set, which holds the Hadoop cluster
    only when PIPELINE_HADOOP_CLUSTER is true, or every service with `everything`."""
    every = [
        S3Server(settings),
        Kafka(settings),
        Elasticsearch(settings),
        Traefik(settings),
        *(cls(settings) for cls in hadoop_cluster.CLASSES),
    ]
    if names:
        wanted = set(expand(names))
        return [service for service in every if service.name in wanted]
    if everything or settings.hadoop_cluster.enabled:
        return every
    return [service for service in every if service.name in NAMES]


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


def up(settings: LocalSettings, env: Mapping[str, str], names: Sequence[str] = ()) -> list[tuple[str, str]]:
    settings.paths.create()
    done = []
    with locked(settings):
        chosen = services(settings, names)
        for service in (s for s in chosen if s.name not in hadoop_cluster.NAMES):
            log.info("%s: starting", service.name)
            done.append((service.name, service.up()))
            log.info("%s: ready", service.name)
        # The Hadoop daemons start together (each JVM takes a while on two cores); the
        # DataNode and NodeManager keep trying their master until it answers.
        cluster = [s for s in chosen if s.name in hadoop_cluster.NAMES]
        launched = []
        for service in cluster:
            log.info("%s: starting", service.name)
            launched.append(service.begin_up())
        for service, started in zip(cluster, launched, strict=True):
            done.append((service.name, service.finish_up(started)))
            log.info("%s: ready", service.name)
        if names and "hadoop" not in names:
            return done
        # No process: a local-mode client install, configured for the S3 server started above.
        home = ensure_hadoop(env, settings.paths.cache_dir, hadoop_home(settings))
        done.append(("hadoop", f"installed in {home}"))
    return done


def down(settings: LocalSettings, wipe: bool = False, names: Sequence[str] = ()) -> list[tuple[str, int | None]]:
    stopped = []
    with locked(settings):
        # Without names: every service, the Hadoop cluster too even when it is not enabled.
        for service in reversed(services(settings, names, everything=True)):
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
    """The default services, and the Hadoop cluster's daemons that run though not enabled."""
    default = {service.name for service in services(settings)}
    return [
        service.status()
        for service in services(settings, everything=True)
        if service.name in default or service.pid() is not None
    ]


def all_ready(settings: LocalSettings) -> bool:
    return all(s.ready for s in status(settings))
