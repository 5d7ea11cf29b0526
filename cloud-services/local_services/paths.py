"""Where downloads, data, logs, pid files and generated configs live."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field

from pipeline_common.environment import Settings
from pipeline_common.local_state import LocalDir, default_local_dir

from .tls import TlsFiles


def _expanded(value):
    return Path(value).expanduser().resolve() if isinstance(value, (str, Path)) else value


class Paths(Settings):
    # downloads, shared by every checkout; safe to delete
    cache_dir: Annotated[Path, BeforeValidator(_expanded)] = Field(
        "~/.cache/image-pipeline",
        alias="PIPELINE_CACHE_DIR",
        description="Downloads of the local services (Kafka, Elasticsearch, Hadoop jars), outside the repository.",
    )
    # this checkout's service state; `down --wipe` empties data/
    local_dir: LocalDir = Field(default_factory=default_local_dir)

    @property
    def data(self) -> Path:
        return self.local_dir / "data"

    @property
    def logs(self) -> Path:
        return self.local_dir / "logs"

    @property
    def run(self) -> Path:
        return self.local_dir / "run"

    @property
    def config(self) -> Path:
        """Generated configuration; holds secrets, so never inside the repository's tracked files."""
        return self.local_dir / "config"

    @property
    def tls(self) -> TlsFiles:
        """The local CA (its certificate is what clients trust) and the edge's certificate."""
        return TlsFiles(self.local_dir / "tls")

    @property
    def ca_cert(self) -> Path:
        """The local CA's certificate: what every local client trusts."""
        return self.tls.ca_cert

    def service_dirs(self, name: str) -> tuple[Path, Path]:
        """(data dir, config dir) of one service."""
        return self.data / name, self.config / name

    def log_file(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def create(self) -> None:
        for directory in (self.cache_dir, self.data, self.logs, self.run, self.config):
            directory.mkdir(parents=True, exist_ok=True)
        # Configs carry passwords: nobody else may list or read them; traversal stays open
        # because Elasticsearch runs as its own user with its own (0700) config dir inside.
        self.config.chmod(0o711)
