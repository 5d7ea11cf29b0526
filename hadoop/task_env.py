"""The env file shipped to map tasks so they can read S3 wherever they run (a local
process, a Hadoop container, an EMR node): a dotenv file with only the S3 settings,
which the task reads through `S3Settings.from_env()` via `PIPELINE_DOTENV`."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline_common.settings import S3Settings

TASK_ENV_NAME = "pipeline-task.env"


def _quoted(value: str) -> str:
    # python-dotenv unescapes \\ and \" inside double quotes
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def task_env_lines(s3: S3Settings) -> list[str]:
    values = {
        "S3_ENDPOINT_URL": s3.endpoint_url,
        "S3_ACCESS_KEY": s3.access_key.get_secret_value(),
        "S3_SECRET_KEY": s3.secret_key.get_secret_value(),
        "S3_BUCKET": s3.bucket,
        "S3_REGION": s3.region,
        "S3_VERIFY_TLS": "true" if s3.verify_tls else "false",
    }
    return [f"{name}={_quoted(value)}" for name, value in values.items()]


def write_task_env(s3: S3Settings, directory: Path) -> Path:
    """Write the file readable by its owner only (it holds the S3 secret)."""
    path = directory / TASK_ENV_NAME
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write("\n".join(task_env_lines(s3)) + "\n")
    return path
