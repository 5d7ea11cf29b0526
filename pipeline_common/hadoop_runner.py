"""mrjob switches that run a job with `-r hadoop` through a Hadoop install (a HADOOP_HOME).

`make up` installs two (cloud-services/local_services): `<local dir>/hadoop` runs jobs
in-process with LocalJobRunner, on `file://` and `s3a://` paths only; `<local dir>/hadoop-cluster`
submits them to the local YARN ResourceManager, with HDFS as the default file system. Either
way a job runs as

    args = hadoop_runner_args(hadoop_home, sys.executable)
    MyJob(args=[*args, "--output-dir", "s3a://bucket/out/", "s3a://bucket/in/"])

Nothing here reads the environment: the caller passes the HADOOP_HOME it was given.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit


class HadoopRunnerError(ValueError):
    """The Hadoop install or an argument is unusable; the message says which and why."""


def streaming_jar(hadoop_home: Path) -> Path:
    """The one hadoop-streaming-<version>.jar of a Hadoop home (tarball or local_services)."""
    jars = sorted((hadoop_home / "share" / "hadoop" / "tools" / "lib").glob("hadoop-streaming-*.jar"))
    jars = [jar for jar in jars if not jar.name.endswith(("-sources.jar", "-tests.jar"))]
    if len(jars) != 1:
        raise HadoopRunnerError(
            f"expected one hadoop-streaming-*.jar under {hadoop_home}/share/hadoop/tools/lib, "
            f"found {len(jars)}; run `make up` to install the local Hadoop"
        )
    return jars[0]


def framework(hadoop_home: Path) -> str:
    """`mapreduce.framework.name` of the home's etc/hadoop/mapred-site.xml: "yarn" for a
    cluster, "local" (Hadoop's default) when the file or the property is absent."""
    path = hadoop_home / "etc" / "hadoop" / "mapred-site.xml"
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        return "local"
    except ET.ParseError as error:
        raise HadoopRunnerError(f"{path} is not valid XML: {error}") from None
    for prop in root.iter("property"):
        if (prop.findtext("name") or "").strip() == "mapreduce.framework.name":
            return (prop.findtext("value") or "").strip() or "local"
    return "local"


def hadoop_runner_args(hadoop_home: Path, python_bin: str, tmp_dir: str | None = None) -> list[str]:
    """Command-line switches for an MRJob so it runs through `hadoop_home`'s Hadoop.

    `python_bin` runs the tasks; give the interpreter of an environment where mrjob and
    pipeline_common are installed (usually `sys.executable`, since the local cluster runs its
    tasks on this machine), so mrjob is not shipped with each job (`--no-bootstrap-mrjob`).

    `tmp_dir` is where mrjob stages the job's files. On a cluster (framework "yarn") the
    default is mrjob's own, `hdfs:///user/<user>/tmp/mrjob`: HDFS is the job's scratch space.
    In local mode it must be a `file://` or `s3a://` URI (mrjob would turn a plain path into an
    `hdfs://` one, and there is no HDFS); by default `<hadoop_home>/tmp/mrjob`."""
    hadoop_bin = hadoop_home / "bin" / "hadoop"
    if not hadoop_bin.is_file():
        raise HadoopRunnerError(f"{hadoop_bin} does not exist; run `make up` to install the local Hadoop")
    if "/" in python_bin and not Path(python_bin).is_absolute():
        # Tasks run in a working directory of their own, where a relative path means nothing.
        raise HadoopRunnerError(f"python_bin must be an absolute path or a command name, got {python_bin!r}")
    args = [
        "-r",
        "hadoop",
        "--hadoop-bin",
        str(hadoop_bin),
        "--hadoop-streaming-jar",
        str(streaming_jar(hadoop_home)),
    ]
    if framework(hadoop_home) == "yarn":
        if tmp_dir:
            args += ["--hadoop-tmp-dir", tmp_dir]
    else:
        tmp_dir = tmp_dir or (hadoop_home / "tmp" / "mrjob").resolve().as_uri()
        if urlsplit(tmp_dir).scheme not in {"file", "s3a"}:
            raise HadoopRunnerError(f"tmp_dir must be a file:// or s3a:// URI for a local-mode Hadoop, got {tmp_dir!r}")
        args += ["--hadoop-tmp-dir", tmp_dir]
    return args + ["--python-bin", python_bin, "--no-bootstrap-mrjob"]
