"""The local Hadoop (3.4, LocalJobRunner) reads and writes s3a:// on the real S3 server, and
mrjob's `-r hadoop` runner drives it with the switches of pipeline_common.hadoop_runner."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline_common.hadoop_runner import hadoop_runner_args
from pipeline_common.s3 import delete_prefix

pytestmark = pytest.mark.integration
log = logging.getLogger(__name__)

WORD_COUNT_JOB = Path(__file__).parent / "jobs" / "mr_word_count.py"
# Two files, so the job has two input splits; case and punctuation exercise the mapper.
INPUTS = {
    "part-a.txt": "The quick brown fox\njumps over the lazy dog.\n",
    "part-b.txt": "the dog sleeps; THE fox doesn't\n\nquick quick\n",
}
EXPECTED = {
    "the": 4,
    "quick": 3,
    "fox": 2,
    "dog": 2,
    "brown": 1,
    "jumps": 1,
    "over": 1,
    "lazy": 1,
    "sleeps": 1,
    "doesn't": 1,
}
JOB_TIMEOUT_S = 300


def parse_job_output(text: str) -> dict[str, int]:
    """mrjob's default output protocol: JSON key, tab, JSON value per line; each key once."""
    pairs = [tuple(json.loads(field) for field in line.split("\t")) for line in text.splitlines()]
    counts = dict(pairs)
    assert len(counts) == len(pairs), f"a word appears on several output lines: {pairs}"
    return counts


def run(command: list[str], cwd: Path, timeout: float = JOB_TIMEOUT_S) -> subprocess.CompletedProcess:
    started = time.monotonic()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    log.info("%.1f s: %s", time.monotonic() - started, " ".join(command[:4]))
    return result


@pytest.fixture
def s3_prefix(s3, s3_settings, unique_name):
    """A fresh key prefix, emptied afterwards."""
    prefix = unique_name("it-hadoop")
    yield prefix
    delete_prefix(s3, s3_settings.bucket, f"{prefix}/")


@pytest.mark.slow
def test_word_count_through_hadoop_on_s3a_matches_inline(hadoop_home, s3, s3_settings, s3_prefix, tmp_path):
    bucket = s3_settings.bucket
    local_inputs = []
    for name, text in INPUTS.items():
        s3.put_object(Bucket=bucket, Key=f"{s3_prefix}/input/{name}", Body=text.encode())
        (tmp_path / name).write_text(text)
        local_inputs.append(str(tmp_path / name))

    inline = run([sys.executable, str(WORD_COUNT_JOB), "-r", "inline", *local_inputs], tmp_path)
    assert inline.returncode == 0, inline.stderr
    inline_counts = parse_job_output(inline.stdout)
    assert inline_counts == EXPECTED

    output_uri = f"s3a://{bucket}/{s3_prefix}/output"
    hadoop = run(
        [
            sys.executable,
            str(WORD_COUNT_JOB),
            *hadoop_runner_args(hadoop_home, sys.executable),
            "--output-dir",
            output_uri,
            f"s3a://{bucket}/{s3_prefix}/input/",
        ],
        tmp_path,
    )
    assert hadoop.returncode == 0, hadoop.stderr[-5000:]
    assert "completed successfully" in hadoop.stderr  # Hadoop's own job report

    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{s3_prefix}/output/")
    names = {item["Key"].rsplit("/", 1)[1] for item in listed.get("Contents", [])}
    assert "_SUCCESS" in names
    parts = sorted(name for name in names if name.startswith("part-"))
    assert parts, f"no part-* files in {output_uri}: {sorted(names)}"
    text = "".join(
        s3.get_object(Bucket=bucket, Key=f"{s3_prefix}/output/{part}")["Body"].read().decode() for part in parts
    )
    assert parse_job_output(text) == inline_counts


def test_fs_ls_and_cat_on_the_bucket(hadoop_home, s3, s3_settings, s3_prefix, tmp_path):
    bucket = s3_settings.bucket
    s3.put_object(Bucket=bucket, Key=f"{s3_prefix}/hello.txt", Body=b"hello from s3\n")
    hadoop = str(hadoop_home / "bin" / "hadoop")

    bucket_listing = run([hadoop, "fs", "-ls", f"s3a://{bucket}/"], tmp_path)
    assert bucket_listing.returncode == 0, bucket_listing.stderr
    assert f"s3a://{bucket}/{s3_prefix}" in bucket_listing.stdout

    file_listing = run([hadoop, "fs", "-ls", f"s3a://{bucket}/{s3_prefix}/"], tmp_path)
    assert file_listing.returncode == 0, file_listing.stderr
    line = next(line for line in file_listing.stdout.splitlines() if line.endswith("/hello.txt"))
    assert line.split()[4] == str(len(b"hello from s3\n"))  # the size column

    cat = run([hadoop, "fs", "-cat", f"s3a://{bucket}/{s3_prefix}/hello.txt"], tmp_path)
    assert cat.returncode == 0, cat.stderr
    assert cat.stdout == "hello from s3\n"


def test_a_wrong_secret_key_is_refused(hadoop_home, s3_settings, tmp_path):
    """The launcher's configuration is what authenticates: override the secret and S3 says no."""
    hadoop = str(hadoop_home / "bin" / "hadoop")
    result = run(
        [hadoop, "fs", "-D", "fs.s3a.secret.key=not-the-secret", "-ls", f"s3a://{s3_settings.bucket}/"], tmp_path
    )
    assert result.returncode != 0
    assert "403" in result.stderr or "SignatureDoesNotMatch" in result.stderr
