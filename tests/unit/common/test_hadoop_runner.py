"""pipeline_common.hadoop_runner: mrjob switches for the local Hadoop, checked on a fake home."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_common.hadoop_runner import HadoopRunnerError, framework, hadoop_runner_args


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


def cluster_home(home: Path, framework_name: str = "yarn") -> Path:
    (home / "etc" / "hadoop").mkdir(parents=True)
    (home / "etc" / "hadoop" / "mapred-site.xml").write_text(
        "<configuration><property><name>mapreduce.framework.name</name>"
        f"<value> {framework_name} </value></property></configuration>"
    )
    return home


def test_the_framework_is_read_from_the_home_s_mapred_site(home):
    assert framework(home) == "local"  # no etc/hadoop: Hadoop's default
    assert framework(cluster_home(home)) == "yarn"


def test_a_broken_mapred_site_is_reported(home):
    (home / "etc" / "hadoop").mkdir(parents=True)
    (home / "etc" / "hadoop" / "mapred-site.xml").write_text("<configuration>")
    with pytest.raises(HadoopRunnerError, match="mapred-site.xml"):
        framework(home)


def test_on_a_cluster_mrjob_stages_on_hdfs_by_default(home):
    args = hadoop_runner_args(cluster_home(home), "/venv/bin/python")
    assert "--hadoop-tmp-dir" not in args  # mrjob's default: hdfs:///user/<user>/tmp/mrjob
    assert option(args, "--hadoop-bin") == str(home / "bin" / "hadoop")


def test_on_a_cluster_an_hdfs_tmp_dir_is_fine(home):
    args = hadoop_runner_args(cluster_home(home), "python3", "hdfs:///tmp/mrjob")
    assert option(args, "--hadoop-tmp-dir") == "hdfs:///tmp/mrjob"
