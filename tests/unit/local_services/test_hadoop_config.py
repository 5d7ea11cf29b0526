"""The generated Hadoop configuration and launcher (local_services/hadoop.py), without Java."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from local_services.errors import ServiceError
from local_services.hadoop import (
    configuration_xml,
    core_site,
    hadoop_version,
    launcher_script,
    mapred_site,
    s3a_properties,
)

ENV = {"S3_ENDPOINT_URL": "http://127.0.0.1:8333", "S3_ACCESS_KEY": "key", "S3_SECRET_KEY": "s3cr<e>t&"}


def properties(xml_text: str) -> dict[str, str]:
    root = ET.fromstring(xml_text)
    return {prop.findtext("name"): prop.findtext("value") for prop in root.iter("property")}


def test_core_site_runs_locally_and_reaches_the_s3_server(tmp_path):
    parsed = properties(configuration_xml(core_site(ENV, tmp_path)))
    assert parsed["fs.defaultFS"] == "file:///"
    assert parsed["hadoop.tmp.dir"] == str(tmp_path)
    assert parsed["fs.s3a.endpoint"] == "http://127.0.0.1:8333"
    assert parsed["fs.s3a.connection.ssl.enabled"] == "false"
    assert parsed["fs.s3a.path.style.access"] == "true"
    assert parsed["fs.s3a.endpoint.region"] == "us-east-1"
    assert (parsed["fs.s3a.access.key"], parsed["fs.s3a.secret.key"]) == ("key", "s3cr<e>t&")


def test_mapreduce_runs_in_process_and_stages_under_the_home(tmp_path):
    parsed = properties(configuration_xml(mapred_site(tmp_path)))
    assert parsed["mapreduce.framework.name"] == "local"
    assert parsed["mapreduce.jobtracker.staging.root.dir"].startswith(str(tmp_path))


def test_https_endpoint_turns_tls_on():
    props = s3a_properties({**ENV, "S3_ENDPOINT_URL": "https://s3.example.org", "S3_REGION": "eu-west-3"})
    assert props["fs.s3a.connection.ssl.enabled"] == "true"
    assert props["fs.s3a.endpoint.region"] == "eu-west-3"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"S3_SECRET_KEY": ""}, "S3_SECRET_KEY"),
        ({"S3_ACCESS_KEY": "  "}, "S3_ACCESS_KEY"),
        ({"S3_ENDPOINT_URL": "127.0.0.1:8333"}, r"http\(s\) URL"),
        ({"S3_ENDPOINT_URL": "ftp://host"}, r"http\(s\) URL"),
    ],
)
def test_bad_s3_settings_are_refused(change, message):
    with pytest.raises(ServiceError, match=message):
        s3a_properties({**ENV, **change})


def test_a_value_hadoop_would_expand_is_refused():
    with pytest.raises(ServiceError, match="fs.s3a.secret.key"):
        configuration_xml({"fs.s3a.secret.key": "a${b}"})


def test_the_pinned_version_is_a_3_4_release():
    assert hadoop_version().startswith("3.4.")


@pytest.fixture
def fake_home(tmp_path) -> Path:
    """A HADOOP_HOME whose `java` only reports its working directory and arguments."""
    java = tmp_path / "fake-java"
    java.write_text('#!/usr/bin/env bash\necho "cwd=$PWD"\nprintf "arg=%s\\n" "$@"\n')
    java.chmod(0o755)
    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    (home / "tmp").mkdir()
    launcher = home / "bin" / "hadoop"
    launcher.write_text(launcher_script(java, "3.4.2"))
    launcher.chmod(0o755)
    return home


def launch(home: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(home / "bin" / "hadoop"), *args], cwd=cwd, capture_output=True, text=True)


@pytest.mark.parametrize(
    "command, main_class",
    [
        ("version", "org.apache.hadoop.util.VersionInfo"),
        ("fs", "org.apache.hadoop.fs.FsShell"),
        ("org.example.Tool", "org.example.Tool"),
    ],
)
def test_commands_map_to_hadoop_main_classes(fake_home, tmp_path, command, main_class):
    result = launch(fake_home, command, "-ls", "s3a://bucket/", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    args = [line[4:] for line in result.stdout.splitlines() if line.startswith("arg=")]
    assert args[-3:] == [main_class, "-ls", "s3a://bucket/"]
    assert f"cwd={tmp_path}" in result.stdout


def test_jar_runs_in_a_private_directory_that_is_removed_afterwards(fake_home, tmp_path):
    (tmp_path / "streaming.jar").write_bytes(b"")
    result = launch(fake_home, "jar", "streaming.jar", "-input", "s3a://b/in", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    cwd = next(line[4:] for line in result.stdout.splitlines() if line.startswith("cwd="))
    assert Path(cwd).parent == fake_home / "tmp" and Path(cwd).name.startswith("jar-cwd.")
    assert not Path(cwd).exists()
    args = [line[4:] for line in result.stdout.splitlines() if line.startswith("arg=")]
    # The relative jar path still names the jar after the change of directory.
    assert args[-4:] == ["org.apache.hadoop.util.RunJar", str(tmp_path / "streaming.jar"), "-input", "s3a://b/in"]


@pytest.mark.parametrize("args, code", [((), 1), (("no-such-command",), 1), (("--help",), 0)])
def test_usage(fake_home, tmp_path, args, code):
    result = launch(fake_home, *args, cwd=tmp_path)
    assert result.returncode == code
    assert "Usage: hadoop COMMAND" in result.stdout + result.stderr
