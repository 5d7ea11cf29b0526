"""What `up`, `down` and `status` need from each service, and the start-or-reuse logic."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from . import process
from .readiness import ensure_ports_free, wait_until
from .settings import LocalSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Status:
    name: str
    pid: int | None
    port: int
    ready: bool
    rss_mb: float | None


class Service:
    """Subclasses set `name`, `config_file` (the generated configuration the process is
    started with; its path marks the process as ours) or else override `marker`, and
    `start_timeout`, and implement `ports`, `install`, `launch`, `is_ready`."""

    name = ""
    config_file = ""
    start_timeout = 120.0

    def __init__(self, settings: LocalSettings):
        self.settings = settings
        self.paths = settings.paths
        self.data_dir, self.config_dir = self.paths.service_dirs(self.name)

    # --- to implement -------------------------------------------------------------------
    @property
    def ports(self) -> list[int]:
        """Every port the service listens on; the first one is the one clients use."""
        raise NotImplementedError

    def install(self) -> None:
        """Download (cached) what the service needs; idempotent."""

    def launch(self) -> None:
        """Write configs and start the process (its pid ends up in `pid_file`)."""
        raise NotImplementedError

    def is_ready(self) -> bool:
        raise NotImplementedError

    def after_ready(self) -> None:
        """One-off set-up once the service answers (e.g. create a bucket); idempotent."""

    # --- shared -----------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.config_dir / self.config_file

    @property
    def marker(self) -> str:
        """A string always in the process's command line: by default its configuration's path."""
        return str(self.config_path)

    @property
    def pid_file(self) -> Path:
        return self.paths.pid_file(self.name)

    @property
    def log_file(self) -> Path:
        return self.paths.log_file(self.name)

    def pid(self) -> int | None:
        return process.running_pid(self.pid_file, self.marker)

    def up(self) -> str:
        """Start the service, or reuse it when it already runs; returns what was done."""
        return self.finish_up(self.begin_up())

    def begin_up(self) -> float | None:
        """The first half of `up`: launch the process unless it runs; the launch time, or
        None when it was running. Several services can begin before any is waited for."""
        if self.pid() is not None:
            return None
        ensure_ports_free(self.name, self.settings.host, self.ports)
        self.install()
        for directory in (self.data_dir, self.config_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self.config_dir.chmod(0o700)
        started = time.monotonic()
        self.launch()
        return started

    def finish_up(self, started: float | None) -> str:
        """The second half of `up`: wait until ready, then the one-off set-up."""
        self.wait_ready()
        self.after_ready()
        if started is None:
            return "already running"
        return f"started in {time.monotonic() - started:.1f} s"

    def wait_ready(self) -> None:
        wait_until(
            self.is_ready,
            what=self.name,
            timeout=self.start_timeout,
            log_file=self.log_file,
            alive=lambda: self.pid() is not None,
        )

    def stop(self) -> int | None:
        return process.stop(self.pid_file, self.marker)

    def status(self) -> Status:
        pid = self.pid()
        return Status(
            name=self.name,
            pid=pid,
            port=self.ports[0],
            ready=pid is not None and self.is_ready(),
            rss_mb=process.rss_mb(pid) if pid else None,
        )
