"""pipeline_common.hadoop_runner: mrjob switches for the local Hadoop, checked on a fake home."""
from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_common.hadoop_runner import HadoopRunnerError, hadoop_runner_args


@pytest.fixture
def home(tmp_path) -> Path:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "hadoop").write_text("#!/bin/sh\n")
    tools = tmp_path / "share" / "hadoop" / "tools" / "lib"
    tools.mkdir(parents=True)
    (tools / "hadoop-streaming-3.4.2.jar").write_bytes(b"")
    return tmp_path


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_switches_name_the_home_s_launcher_jar_and_a_file_uri_tmp_dir(home):
    args = hadoop_runner_args(home, "/venv/bin/python")
    assert args[:2] == ["-r", "hadoop"]
    assert option(args, "--hadoop-bin") == str(home / "bin" / "hadoop")
    assert option(args, "--hadoop-streaming-jar") == str(home / "share/hadoop/tools/lib/hadoop-streaming-3.4.2.jar")
    assert option(args, "--hadoop-tmp-dir") == (home / "tmp" / "mrjob").resolve().as_uri()
    assert option(args, "--python-bin") == "/venv/bin/python"
    assert "--no-bootstrap-mrjob" in args


def test_an_s3a_tmp_dir_is_kept(home):
    args = hadoop_runner_args(home, "python3", "s3a://bucket/tmp/mrjob")
    assert option(args, "--hadoop-tmp-dir") == "s3a://bucket/tmp/mrjob"


@pytest.mark.parametrize("tmp_dir", ["/tmp/mrjob", "tmp/mrjob", "hdfs:///tmp/mrjob"])
def test_a_tmp_dir_that_would_mean_hdfs_is_refused(home, tmp_dir):
    with pytest.raises(HadoopRunnerError, match="file:// or s3a://"):
        hadoop_runner_args(home, "python3", tmp_dir)


def test_a_relative_python_path_is_refused(home):
    with pytest.raises(HadoopRunnerError, match="absolute"):
        hadoop_runner_args(home, ".venv/bin/python")


def test_a_home_without_launcher_says_how_to_install(tmp_path):
    with pytest.raises(HadoopRunnerError, match="make up"):
        hadoop_runner_args(tmp_path, "python3")


def test_a_home_without_streaming_jar_is_refused(home):
    (home / "share/hadoop/tools/lib/hadoop-streaming-3.4.2.jar").unlink()
    with pytest.raises(HadoopRunnerError, match="hadoop-streaming"):
        hadoop_runner_args(home, "python3")
