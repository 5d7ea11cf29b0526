"""The aggregation CLI's pure pieces: settings, manifests, the task env file, job args."""

import os
import sys
from pathlib import Path

import pytest
from dotenv import dotenv_values

from hadoop.aggregation import hadoop_runner_args, job_args, merge_counters
from hadoop.manifest import write_manifests
from hadoop.settings import AggregationSettings
from hadoop.task_env import TASK_ENV_NAME, write_task_env
from pipeline_common.contracts import Interval
from pipeline_common.environment import SettingsError
from pipeline_common.settings import S3Settings

ENV = {"S3_ACCESS_KEY": "key", "S3_SECRET_KEY": "secret"}


def test_settings_defaults():
    settings = AggregationSettings.from_env(ENV)
    assert settings.runner == "local"
    assert settings.interval is Interval.HOUR
    assert settings.input_prefix == "metadata/"
    assert settings.output_prefix == "mapreduce-output/"
    assert len(settings.run_id) == len("20261128T120000Z") and settings.run_id.endswith("Z")


def test_command_line_wins_over_environment():
    env = dict(ENV, AGGREGATION_RUNNER="inline", AGGREGATION_INTERVAL="day")
    settings = AggregationSettings.from_env(env, runner="local", interval=None, run_id="20260101T000000Z")
    assert (settings.runner, settings.interval, settings.run_id) == ("local", Interval.DAY, "20260101T000000Z")


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(runner="spark"), "runner must be one of"),
        (dict(interval="week"), "interval must be one of"),
        (dict(run_id="latest"), "run id must look like"),
        (dict(run_id="../20260101T000000Z"), "run id must look like"),
        (dict(input_prefix="/metadata"), "prefix must be"),
        (dict(output_prefix="out"), "prefix must be"),
        (dict(fetch_threads=-1), "at least 1"),
        (dict(fetch_threads=0), "at least 1"),
        (dict(keys_per_split=0), "at least 1"),
    ],
)
def test_bad_settings_are_refused(overrides, message):
    with pytest.raises(SettingsError, match=message):
        AggregationSettings.from_env(ENV, **overrides)


def test_secrets_are_required():
    with pytest.raises(SettingsError, match="S3_SECRET_KEY"):
        AggregationSettings.from_env({"S3_ACCESS_KEY": "key"})


def test_manifests_are_split_and_keep_every_uri(tmp_path):
    uris = [f"s3://b/metadata/{n}.json" for n in range(25)]
    paths, total = write_manifests(iter(uris), tmp_path, lines_per_file=10)
    assert total == 25
    assert [p.name for p in paths] == ["manifest-00000.txt", "manifest-00001.txt", "manifest-00002.txt"]
    assert [line for p in paths for line in p.read_text().splitlines()] == uris


def test_empty_listing_still_gives_one_manifest(tmp_path):
    paths, total = write_manifests(iter([]), tmp_path, lines_per_file=10)
    assert total == 0 and len(paths) == 1 and paths[0].read_text() == ""


def test_task_env_file_round_trips_and_is_private(tmp_path):
    s3 = S3Settings(
        endpoint_url="http://127.0.0.1:8333", access_key="k", secret_key='se"cr\\et #x', bucket="b", verify_tls=False
    )
    path = write_task_env(s3, tmp_path)
    assert path.name == TASK_ENV_NAME
    assert path.stat().st_mode & 0o777 == 0o600
    values = dotenv_values(path)
    assert S3Settings.from_env(values) == s3


def test_job_args_for_local_runner():
    settings = AggregationSettings.from_env(ENV, interval="minute", fetch_threads=4)
    args = job_args(settings, [Path("/m/manifest-00000.txt")], Path("/t/task.env"), None, [])
    assert args[:3] == ["-r", "local", "--no-conf"]
    assert args[args.index("--interval") + 1] == "minute"
    assert args[args.index("--input-format") + 1] == "manifest"
    assert args[args.index("--fetch-threads") + 1] == "4"
    assert args[args.index("--files") + 1] == f"/t/task.env#{TASK_ENV_NAME}"
    assert args[args.index("--cmdenv") + 1] == f"PIPELINE_DOTENV={TASK_ENV_NAME}"
    assert "--output-dir" not in args
    assert args[-1] == "/m/manifest-00000.txt"
    if sys.version_info < (3, 12):  # tasks import stdlib's distutils, not setuptools' (quicker to start)
        assert "SETUPTOOLS_USE_DISTUTILS=stdlib" in args


def test_job_args_keep_a_chosen_mrjob_conf():
    settings = AggregationSettings.from_env(ENV, runner="emr", extra_runner_args=["-c", "emr.conf"])
    args = job_args(settings, [Path("m")], Path("e"), "s3://out/", [], py_files=Path("p.zip"))
    assert "--no-conf" not in args
    assert args[args.index("-c") + 1] == "emr.conf"
    assert args[args.index("--py-files") + 1] == "p.zip"
    assert args[args.index("--output-dir") + 1] == "s3://out/"


def test_counters_of_steps_are_merged():
    steps = [{"bad records": {"invalid JSON": 2}}, {"bad records": {"invalid JSON": 1, "empty record": 1}}]
    assert merge_counters(steps) == {"bad records": {"invalid JSON": 3, "empty record": 1}}


def test_local_runner_uses_fewer_cores_for_small_inputs():
    from hadoop.aggregation import local_runner_args

    assert local_runner_args(objects=10) == ["--num-cores", "1"]
    assert local_runner_args(objects=0) == ["--num-cores", "1"]
    assert local_runner_args(objects=10**6) == ["--num-cores", str(os.cpu_count())]


def fake_hadoop_home(home: Path, framework: str) -> Path:
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "hadoop").write_text("#!/bin/sh\n")
    (home / "share/hadoop/tools/lib").mkdir(parents=True)
    (home / "share/hadoop/tools/lib/hadoop-streaming-3.4.2.jar").write_bytes(b"")
    (home / "etc/hadoop").mkdir(parents=True)
    (home / "etc/hadoop/mapred-site.xml").write_text(
        f"<configuration><property><name>mapreduce.framework.name</name><value>{framework}</value>"
        "</property></configuration>"
    )
    return home


@pytest.mark.parametrize("framework", ["local", "yarn"])
def test_hadoop_runner_args_name_the_run_and_stage_privately(tmp_path, framework):
    home = fake_hadoop_home(tmp_path / "home", framework)
    settings = AggregationSettings.from_env(ENV, runner="hadoop", hadoop_home=str(home), run_id="20261128T120000Z")
    args = hadoop_runner_args(settings, tmp_path / "private")
    assert "-r" not in args  # job_args names the runner
    jobconf = [args[i + 1] for i, arg in enumerate(args) if arg == "--jobconf"]
    assert "mapreduce.job.name=object-counts 20261128T120000Z" in jobconf
    if framework == "local":  # a private folder of this run's own on this machine
        assert (tmp_path / "private").stat().st_mode & 0o777 == 0o700
        assert args[args.index("--hadoop-tmp-dir") + 1] == (tmp_path / "private").as_uri()
        assert f"hadoop.tmp.dir={tmp_path / 'private'}" in jobconf
    else:  # mrjob stages on HDFS (private there: the cluster's umask); no local paths sent
        assert not (tmp_path / "private").exists()
        assert "--hadoop-tmp-dir" not in args
        assert not any(conf.startswith("hadoop.tmp.dir") for conf in jobconf)
