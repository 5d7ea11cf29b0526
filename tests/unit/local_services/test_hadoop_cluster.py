"""The local Hadoop cluster's configuration (local_services/hadoop_cluster.py) and how the
stack chooses its daemons, without Java."""

from __future__ import annotations

import getpass
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from local_services import hadoop_cluster, stack
from local_services.cli import parse_args
from local_services.errors import ServiceError
from local_services.hadoop import configuration_xml
from local_services.hadoop_settings import ClusterPorts, ClusterSettings
from local_services.maven import pom
from local_services.settings import LocalSettings
from pipeline_common.environment import SettingsError

from .conftest import LOCAL_ENV

ENV = LOCAL_ENV
S3A = {"fs.s3a.endpoint": "http://127.0.0.1:8333", "fs.s3a.secret.key": "s"}


def site_files(ports: ClusterPorts, tmp_path: Path) -> dict[str, dict[str, str]]:
    layout = hadoop_cluster.ClusterLayout(home=tmp_path / "home", data=tmp_path / "data", logs=tmp_path / "logs")
    return hadoop_cluster.cluster_site_files(S3A, ports, layout, [tmp_path / "cluster-lib", tmp_path / "lib"])


def addresses(files: dict[str, dict[str, str]]) -> dict[str, str]:
    """Every host:port a daemon listens on or clients dial, by property name."""
    found = {}
    for properties in files.values():
        for name, value in properties.items():
            if re.fullmatch(r"(hdfs://)?[\w.]+:\d+", value) and not name.startswith("fs.s3a"):
                found[name] = value.removeprefix("hdfs://")
    return found


def test_every_daemon_address_is_on_the_loopback_interface_at_the_configured_port(tmp_path):
    ports = ClusterPorts.from_env(
        {f"PIPELINE_HADOOP_{f.upper()}_PORT": str(20000 + i) for i, f in enumerate(ClusterPorts.model_fields)}
    )
    found = addresses(site_files(ports, tmp_path))
    assert found, "no addresses found"
    assert all(address.startswith("127.0.0.1:") for address in found.values()), found
    used = {int(address.rsplit(":", 1)[1]) for address in found.values()} - {0}
    # Every configured port appears (the shuffle port is mapreduce.shuffle.port, a bare number).
    assert used | {ports.shuffle} == {getattr(ports, name) for name in ClusterPorts.model_fields}


def test_ports_default_to_hadoop_s_own_and_bad_values_are_refused():
    assert ClusterPorts.from_env({}).namenode_http == 9870
    assert ClusterPorts.from_env({}).resourcemanager_http == 8088
    with pytest.raises(SettingsError, match="PIPELINE_HADOOP_NAMENODE_PORT"):
        ClusterPorts.from_env({"PIPELINE_HADOOP_NAMENODE_PORT": "eighty"})


def test_the_cluster_runs_mapreduce_on_yarn_with_the_shuffle_service_and_hdfs(tmp_path):
    files = site_files(ClusterPorts(namenode=28020, shuffle=23562), tmp_path)
    assert files["core-site"]["fs.defaultFS"] == "hdfs://127.0.0.1:28020"
    assert files["mapred-site"]["mapreduce.framework.name"] == "yarn"
    assert files["yarn-site"]["yarn.nodemanager.aux-services"] == "mapreduce_shuffle"
    assert files["mapred-site"]["mapreduce.shuffle.port"] == "23562"
    assert files["hdfs-site"]["dfs.replication"] == "1"
    # Containers see both jar folders (the MapReduce app master; s3a and the AWS SDK).
    class_path = files["yarn-site"]["yarn.application.classpath"].split(",")
    assert class_path == [str(tmp_path / "home/etc/hadoop"), f"{tmp_path}/cluster-lib/*", f"{tmp_path}/lib/*"]
    # the s3a settings reach the tasks, which write the output to S3
    assert files["core-site"]["fs.s3a.endpoint"] == S3A["fs.s3a.endpoint"]


def test_only_the_owner_may_submit_and_files_on_hdfs_are_private(tmp_path):
    files = site_files(ClusterPorts(), tmp_path)
    assert files["yarn-site"]["yarn.acl.enable"] == "true"
    scheduler = files["capacity-scheduler"]
    assert scheduler["yarn.scheduler.capacity.root.default.acl_submit_applications"] == getpass.getuser()
    assert scheduler["yarn.scheduler.capacity.root.acl_submit_applications"].strip() == ""
    assert files["core-site"]["fs.permissions.umask-mode"] == "077"


def test_containers_fit_the_node_and_their_heaps_fit_the_containers(tmp_path):
    files = site_files(ClusterPorts(), tmp_path)
    yarn, mapred = files["yarn-site"], files["mapred-site"]
    node = int(yarn["yarn.nodemanager.resource.memory-mb"])
    am = int(mapred["yarn.app.mapreduce.am.resource.mb"])
    task = int(mapred["mapreduce.map.memory.mb"])
    assert am + 2 * task <= node  # the app master and two tasks at once (two cores)
    for opts, container in (
        ("yarn.app.mapreduce.am.command-opts", am),
        ("mapreduce.map.java.opts", task),
        ("mapreduce.reduce.java.opts", task),
    ):
        heap = int(re.search(r"-Xmx(\d+)m", mapred[opts]).group(1))
        assert heap < container, opts
    # every file renders as Hadoop configuration XML
    for properties in files.values():
        assert ET.fromstring(configuration_xml(properties)).tag == "configuration"


def test_both_poms_pin_the_same_hadoop_version():
    namespace = {"m": "http://maven.apache.org/POM/4.0.0"}
    versions = {
        ET.parse(pom(name)).findtext("m:properties/m:hadoop.version", namespaces=namespace)
        for name in ("hadoop", "hadoop-cluster")
    }
    assert versions == {"3.4.2"}


def test_the_hdfs_ui_pages_are_taken_from_the_tests_jar_and_nothing_else(tmp_path, monkeypatch):
    jar = tmp_path / "hadoop-hdfs-3.4.2-tests.jar"
    with zipfile.ZipFile(jar, "w") as archive:
        archive.writestr("webapps/hdfs/dfshealth.html", "<html>overview</html>")
        archive.writestr("webapps/static/hadoop.css", "body {}")
        archive.writestr("hdfs-site.xml", "<configuration/>")  # test resources stay out
        archive.writestr("org/apache/hadoop/hdfs/TestX.class", b"")
    asked = []
    monkeypatch.setattr(hadoop_cluster.maven, "fetch_artifact", lambda coords, dest: asked.append(coords) or jar)

    ui = hadoop_cluster.hdfs_ui_dir(tmp_path / "cache", "3.4.2")
    assert asked == ["org.apache.hadoop:hadoop-hdfs:3.4.2:jar:tests"]
    assert sorted(str(p.relative_to(ui)) for p in ui.rglob("*") if p.is_file()) == [
        "webapps/hdfs/dfshealth.html",
        "webapps/static/hadoop.css",
    ]
    assert hadoop_cluster.hdfs_ui_dir(tmp_path / "cache", "3.4.2") == ui  # once only
    assert len(asked) == 1


def test_a_tests_jar_without_the_pages_is_an_error(tmp_path, monkeypatch):
    jar = tmp_path / "empty-tests.jar"
    with zipfile.ZipFile(jar, "w") as archive:
        archive.writestr("webapps/static/hadoop.css", "body {}")
    monkeypatch.setattr(hadoop_cluster.maven, "fetch_artifact", lambda coords, dest: jar)
    with pytest.raises(ServiceError, match="dfshealth.html"):
        hadoop_cluster.hdfs_ui_dir(tmp_path / "cache", "3.4.2")


@pytest.fixture
def settings(tmp_path):
    def make(**extra):
        return LocalSettings.from_env(
            {
                **ENV,
                "PIPELINE_LOCAL_DIR": str(tmp_path / "local"),
                "PIPELINE_CACHE_DIR": str(tmp_path / "cache"),
                **extra,
            }
        )

    return make


def test_a_plain_up_leaves_the_cluster_out_unless_enabled(settings):
    assert [s.name for s in stack.services(settings())] == ["s3", "kafka", "elasticsearch", "traefik"]
    enabled = [s.name for s in stack.services(settings(PIPELINE_HADOOP_CLUSTER="true"))]
    assert enabled == ["s3", "kafka", "elasticsearch", "traefik", *hadoop_cluster.NAMES]


def test_the_cluster_by_one_name_and_down_stops_it_even_when_not_enabled(settings):
    assert [s.name for s in stack.services(settings(), ["hadoop-cluster"])] == list(hadoop_cluster.NAMES)
    assert [s.name for s in stack.services(settings(), everything=True)][-4:] == list(hadoop_cluster.NAMES)
    assert ClusterSettings.from_env({}).enabled is False


def test_the_daemons_use_their_ports_and_the_shared_configuration(settings):
    namenode, datanode, rm, nm = stack.services(settings(PIPELINE_HADOOP_NAMENODE_PORT="28020"), ["hadoop-cluster"])
    assert namenode.ports == [28020, 9870]
    assert nm.ports[-1] == 13562  # the shuffle service lives in the NodeManager
    assert namenode.config_dir == rm.config_dir == namenode.layout.home / "etc" / "hadoop"
    assert namenode.marker != datanode.marker


@pytest.mark.parametrize(
    "argv", [["up", "hadoop-cluster"], ["down", "hadoop-cluster"], ["down", "yarn-nodemanager", "hdfs-datanode"]]
)
def test_the_cli_knows_the_cluster(argv):
    assert parse_args(argv).services == argv[1:]
