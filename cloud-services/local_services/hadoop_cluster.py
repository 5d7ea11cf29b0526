"""A single-node Hadoop 3.4 cluster from the Maven Central jars: HDFS (NameNode, DataNode)
and YARN (ResourceManager, NodeManager with the MapReduce shuffle service).

The daemons and their clients share one HADOOP_HOME, `<local dir>/hadoop-cluster`: its
`etc/hadoop` holds the configuration every daemon starts with, and its `bin/hadoop` submits
jobs to the ResourceManager (`mapreduce.framework.name=yarn`) with HDFS as the default file
system, so `mrjob -r hadoop --hadoop-bin <home>/bin/hadoop` runs on the cluster. Every port
is bound to 127.0.0.1 and configurable (`PIPELINE_HADOOP_<NAME>_PORT`).

Not started by a plain `up` unless PIPELINE_HADOOP_CLUSTER=true: `up hadoop-cluster` starts
it, and `down` always stops it.
"""

from __future__ import annotations

import fcntl
import getpass
import logging
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import requests

from . import maven, process
from .errors import ServiceError
from .hadoop import ADD_OPENS, install_jars, s3a_properties, write_home
from .hadoop_settings import ClusterPorts
from .readiness import log_tail
from .service import Service

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
# The NameNode's and DataNode's web pages are not in hadoop-hdfs.jar: its `tests` jar has them.
HDFS_UI_ARTIFACT = "org.apache.hadoop:hadoop-hdfs:{version}:jar:tests"
GROUP = "hadoop-cluster"  # `up hadoop-cluster` starts every daemon below
CLUSTER_ID = "image-pipeline-local"


# Sized for a 2-core, 24 GB development machine running the rest of the stack as well.
DAEMON_HEAP_MB = {"hdfs-namenode": 256, "hdfs-datanode": 192, "yarn-resourcemanager": 384, "yarn-nodemanager": 256}
NODE_MEMORY_MB = 3072  # what the NodeManager offers to containers
NODE_VCORES = 4  # scheduling units (the CapacityScheduler places containers by memory)
CONTAINER_MB = 768  # the application master and each map and reduce task
# A task's JVM leaves room in its container for the Python process streaming starts.
TASK_HEAP_MB, AM_HEAP_MB = 384, 512
# Short-lived JVMs on two cores: the quick JIT only and the serial collector.
JVM_FLAGS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.net.preferIPv4Stack=true"


def hdfs_ui_dir(cache_dir: Path, version: str) -> Path:
    """A class-path folder holding `webapps/` from hadoop-hdfs's tests jar (extracted once)."""
    target = cache_dir / f"hadoop-{version}" / "hdfs-ui"
    if (target / "webapps" / "hdfs" / "dfshealth.html").is_file():
        return target
    jar = maven.fetch_artifact(HDFS_UI_ARTIFACT.format(version=version), cache_dir / "downloads")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with zipfile.ZipFile(jar) as archive:
        members = [name for name in archive.namelist() if name.startswith("webapps/")]
        if not any(name.endswith("hdfs/dfshealth.html") for name in members):
            raise ServiceError(f"{jar} has no webapps/hdfs/dfshealth.html: the HDFS UI cannot be served")
        archive.extractall(partial, members)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


@dataclass(frozen=True)
class ClusterLayout:
    """Where the cluster keeps its configuration, data and logs."""

    home: Path  # HADOOP_HOME of the daemons and clients: etc/hadoop, bin/hadoop, lib
    data: Path  # <local dir>/data
    logs: Path  # <local dir>/logs

    @property
    def conf_dir(self) -> Path:
        return self.home / "etc" / "hadoop"

    def data_dir(self, daemon: str) -> Path:
        return self.data / daemon

    @property
    def container_logs(self) -> Path:
        return self.logs / "yarn-containers"


def cluster_core_site(s3a: Mapping[str, str], ports: ClusterPorts, tmp_dir: Path) -> dict[str, str]:
    return {
        "fs.defaultFS": f"hdfs://{HOST}:{ports.namenode}",
        "hadoop.tmp.dir": str(tmp_dir),
        # Files and folders clients create on HDFS are their owner's alone: mrjob stages the
        # job's files there, among them the task env file with the S3 secret.
        "fs.permissions.umask-mode": "077",
        **s3a,
    }


def hdfs_site(ports: ClusterPorts, layout: ClusterLayout) -> dict[str, str]:
    return {
        "dfs.namenode.name.dir": layout.data_dir("hdfs-namenode").as_uri(),
        "dfs.datanode.data.dir": layout.data_dir("hdfs-datanode").as_uri(),
        "dfs.replication": "1",
        "dfs.permissions.enabled": "true",
        "dfs.namenode.rpc-address": f"{HOST}:{ports.namenode}",
        "dfs.namenode.http-address": f"{HOST}:{ports.namenode_http}",
        # No secondary NameNode here; its default address would be 0.0.0.0:9868.
        "dfs.namenode.secondary.http-address": f"{HOST}:0",
        "dfs.datanode.address": f"{HOST}:{ports.datanode}",
        "dfs.datanode.http.address": f"{HOST}:{ports.datanode_http}",
        "dfs.datanode.ipc.address": f"{HOST}:{ports.datanode_ipc}",
        "dfs.datanode.hostname": HOST,
        # The DataNode registers as 127.0.0.1, which reverse-resolves to "localhost".
        "dfs.namenode.datanode.registration.ip-hostname-check": "false",
        "dfs.namenode.handler.count": "5",
        "dfs.datanode.handler.count": "3",
        # One DataNode: leave safe mode as soon as it has reported its blocks.
        "dfs.namenode.safemode.extension": "0",
    }


def yarn_site(ports: ClusterPorts, layout: ClusterLayout, libs: Sequence[Path]) -> dict[str, str]:
    rm = nm = f"{HOST}:"
    user = getpass.getuser()
    return {
        "yarn.resourcemanager.hostname": HOST,
        "yarn.resourcemanager.address": f"{rm}{ports.resourcemanager}",
        "yarn.resourcemanager.scheduler.address": f"{rm}{ports.resourcemanager_scheduler}",
        "yarn.resourcemanager.resource-tracker.address": f"{rm}{ports.resourcemanager_tracker}",
        "yarn.resourcemanager.admin.address": f"{rm}{ports.resourcemanager_admin}",
        "yarn.resourcemanager.webapp.address": f"{rm}{ports.resourcemanager_http}",
        "yarn.nodemanager.hostname": HOST,
        "yarn.nodemanager.address": f"{nm}{ports.nodemanager}",
        "yarn.nodemanager.localizer.address": f"{nm}{ports.nodemanager_localizer}",
        "yarn.nodemanager.webapp.address": f"{nm}{ports.nodemanager_http}",
        "yarn.nodemanager.aux-services": "mapreduce_shuffle",
        "yarn.nodemanager.aux-services.mapreduce_shuffle.class": "org.apache.hadoop.mapred.ShuffleHandler",
        "yarn.nodemanager.local-dirs": str(layout.data_dir("yarn-nodemanager") / "local"),
        "yarn.nodemanager.log-dirs": str(layout.container_logs),
        "yarn.nodemanager.resource.memory-mb": str(NODE_MEMORY_MB),
        "yarn.nodemanager.resource.cpu-vcores": str(NODE_VCORES),
        "yarn.scheduler.minimum-allocation-mb": "256",
        "yarn.scheduler.maximum-allocation-mb": str(NODE_MEMORY_MB),
        # A JVM reserves far more virtual memory than it uses; physical memory is checked.
        "yarn.nodemanager.vmem-check-enabled": "false",
        # A nearly full development disk must not mark the only node unhealthy.
        "yarn.nodemanager.disk-health-checker.max-disk-utilization-per-disk-percentage": "99.5",
        # Containers find Hadoop in the daemons' and the clients' jars (s3a, the AWS SDK).
        "yarn.application.classpath": ",".join([str(layout.conf_dir), *(f"{lib}/*" for lib in libs)]),
        # Only this user may submit or administer: without it, anyone reaching the REST API
        # could submit an application (as the anonymous web user) that runs commands as us.
        "yarn.acl.enable": "true",
        "yarn.admin.acl": user,
        "yarn.resourcemanager.recovery.enabled": "false",
        "yarn.log-aggregation-enable": "false",
        "yarn.nodemanager.delete.debug-delay-sec": "0",
        # Container logs are kept for a day, then deleted by the NodeManager.
        "yarn.nodemanager.log.retain-seconds": "86400",
        "yarn.resourcemanager.nodemanager-connect-retries": "5",
        "yarn.nodemanager.resourcemanager.minimum.version": "NONE",
    }


def capacity_scheduler(user: str | None = None) -> dict[str, str]:
    """One queue, `default`, with the whole node; only `user` may submit to it."""
    user = user or getpass.getuser()
    return {
        "yarn.scheduler.capacity.root.queues": "default",
        "yarn.scheduler.capacity.root.default.capacity": "100",
        "yarn.scheduler.capacity.root.default.maximum-capacity": "100",
        # Several jobs (two test sessions) may each run their application master.
        "yarn.scheduler.capacity.maximum-am-resource-percent": "0.5",
        "yarn.scheduler.capacity.root.acl_submit_applications": " ",
        "yarn.scheduler.capacity.root.acl_administer_queue": " ",
        "yarn.scheduler.capacity.root.default.acl_submit_applications": user,
        "yarn.scheduler.capacity.root.default.acl_administer_queue": user,
        "yarn.scheduler.capacity.node-locality-delay": "-1",
    }


def cluster_mapred_site(ports: ClusterPorts, libs: Sequence[Path]) -> dict[str, str]:
    return {
        "mapreduce.framework.name": "yarn",
        "mapreduce.application.classpath": ",".join(f"{lib}/*" for lib in libs),
        # Java 17: the --add-opens flags Hadoop needs, added by Hadoop to every task JVM.
        "mapreduce.jvm.add-opens-as-default": "true",
        "yarn.app.mapreduce.am.resource.mb": str(CONTAINER_MB),
        "yarn.app.mapreduce.am.command-opts": f"-Xmx{AM_HEAP_MB}m {JVM_FLAGS}",
        "mapreduce.map.memory.mb": str(CONTAINER_MB),
        "mapreduce.reduce.memory.mb": str(CONTAINER_MB),
        "mapreduce.map.java.opts": f"-Xmx{TASK_HEAP_MB}m {JVM_FLAGS}",
        "mapreduce.reduce.java.opts": f"-Xmx{TASK_HEAP_MB}m {JVM_FLAGS}",
        "mapreduce.task.io.sort.mb": "64",
        "mapreduce.shuffle.port": str(ports.shuffle),
        "mapreduce.client.progressmonitor.pollinterval": "500",
        # No job history server here: nothing may wait for one.
        "mapreduce.jobhistory.address": f"{HOST}:0",
        "mapreduce.jobhistory.webapp.address": f"{HOST}:0",
    }


def cluster_site_files(
    s3a: Mapping[str, str], ports: ClusterPorts, layout: ClusterLayout, libs: Sequence[Path]
) -> dict[str, dict[str, str]]:
    """Every etc/hadoop/<name>.xml of the cluster (daemons and clients read the same);
    `libs`: the daemons' jars, then the clients'."""
    return {
        "core-site": cluster_core_site(s3a, ports, layout.home / "tmp"),
        "hdfs-site": hdfs_site(ports, layout),
        "yarn-site": yarn_site(ports, layout, libs),
        "mapred-site": cluster_mapred_site(ports, libs),
        "capacity-scheduler": capacity_scheduler(),
    }


@dataclass(frozen=True)
class Daemon:
    name: str
    main_class: str
    ports: tuple[str, ...]  # ClusterPorts fields, the client one first


DAEMONS = (
    Daemon("hdfs-namenode", "org.apache.hadoop.hdfs.server.namenode.NameNode", ("namenode", "namenode_http")),
    Daemon(
        "hdfs-datanode",
        "org.apache.hadoop.hdfs.server.datanode.DataNode",
        ("datanode", "datanode_http", "datanode_ipc"),
    ),
    Daemon(
        "yarn-resourcemanager",
        "org.apache.hadoop.yarn.server.resourcemanager.ResourceManager",
        (
            "resourcemanager",
            "resourcemanager_scheduler",
            "resourcemanager_tracker",
            "resourcemanager_admin",
            "resourcemanager_http",
        ),
    ),
    Daemon(
        "yarn-nodemanager",
        "org.apache.hadoop.yarn.server.nodemanager.NodeManager",
        ("nodemanager", "nodemanager_localizer", "nodemanager_http", "shuffle"),
    ),
)
NAMES = tuple(daemon.name for daemon in DAEMONS)


def _get_json(url: str) -> dict | None:
    try:
        answer = requests.get(url, timeout=2)
    except requests.RequestException:
        return None
    return answer.json() if answer.ok else None


def namenode_state(ports: ClusterPorts) -> dict:
    """The NameNode's FSNamesystemState bean (live DataNodes, safe mode), {} when down."""
    found = _get_json(f"http://{HOST}:{ports.namenode_http}/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState")
    beans = (found or {}).get("beans") or [{}]
    return beans[0]


def resourcemanager_metrics(ports: ClusterPorts) -> dict:
    found = _get_json(f"http://{HOST}:{ports.resourcemanager_http}/ws/v1/cluster/metrics")
    return (found or {}).get("clusterMetrics") or {}


def cluster_lib(cache_dir: Path, version: str) -> Path:
    """The daemons' jars (maven/hadoop-cluster/pom.xml), copied once per pom content."""
    lib = cache_dir / f"hadoop-{version}" / "cluster-lib"
    with open(lib.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        maven.fetch_jars("hadoop-cluster", lib)
    return lib


class HadoopDaemon(Service):
    """One daemon of the cluster; the four share the configuration in the cluster's home."""

    daemon: Daemon
    start_timeout = 180.0

    def __init__(self, settings):
        super().__init__(settings)
        self.cluster = settings.hadoop_cluster
        self.layout = ClusterLayout(home=cluster_home(settings), data=self.paths.data, logs=self.paths.logs)
        self.config_dir = self.layout.conf_dir

    @property
    def marker(self) -> str:
        return f"-Dpipeline.service={self.name}@{self.layout.home}"

    @property
    def ports(self) -> list[int]:
        return [getattr(self.cluster.ports, field) for field in self.daemon.ports]

    def install(self) -> None:
        self.java, self.lib, self.version = install_cluster(self.settings, self.layout)

    def command(self, *args: str) -> list[str]:
        heap = DAEMON_HEAP_MB[self.name]
        class_path = [str(self.layout.conf_dir)]
        if self.name.startswith("hdfs-"):
            class_path.append(str(hdfs_ui_dir(self.paths.cache_dir, self.version)))
        class_path.append(f"{self.lib}/*")
        return [
            str(self.java),
            f"-Xms{heap // 2}m",
            f"-Xmx{heap}m",
            *JVM_FLAGS.split(),
            *ADD_OPENS.split(),
            self.marker,
            f"-Dhadoop.home.dir={self.layout.home}",
            f"-Dhadoop.log.dir={self.paths.logs}",
            f"-Dhadoop.log.file={self.name}.log",
            f"-Dyarn.log.dir={self.paths.logs}",
            f"-Dhadoop.id.str={getpass.getuser()}",
            "-Dhadoop.root.logger=INFO,console",
            f"-Dlog4j.configuration=file:{self.layout.conf_dir / 'log4j.properties'}",
            "-cp",
            ":".join(class_path),
            self.daemon.main_class,
            *args,
        ]

    def child_env(self) -> dict[str, str]:
        java_home = str(Path(self.java).parent.parent)
        return self.settings.child_env(
            JAVA_HOME=java_home, HADOOP_HOME=str(self.layout.home), HADOOP_CONF_DIR=str(self.layout.conf_dir)
        )

    def launch(self) -> None:
        process.start(
            self.command(), log_file=self.log_file, pid_file=self.pid_file, env=self.child_env(), cwd=self.data_dir
        )


class NameNode(HadoopDaemon):
    daemon = DAEMONS[0]
    name = daemon.name

    def launch(self) -> None:
        if not (self.data_dir / "current" / "VERSION").is_file():
            log.info("formatting HDFS in %s", self.data_dir)
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log_file, "ab") as out:
                result = subprocess.run(
                    self.command("-format", "-nonInteractive", "-clusterId", CLUSTER_ID),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=self.child_env(),
                    cwd=self.data_dir,
                )
            if result.returncode != 0:
                raise ServiceError(
                    f"formatting HDFS failed (exit code {result.returncode}). Last lines "
                    f"of {self.log_file}:\n{log_tail(self.log_file, 25)}"
                )
        super().launch()

    def is_ready(self) -> bool:
        return bool(namenode_state(self.cluster.ports).get("FSState"))


class DataNode(HadoopDaemon):
    daemon = DAEMONS[1]
    name = daemon.name

    def is_ready(self) -> bool:
        """The NameNode counts a live DataNode and has left safe mode."""
        state = namenode_state(self.cluster.ports)
        return state.get("NumLiveDataNodes", 0) >= 1 and state.get("FSState") == "Operational"


class ResourceManager(HadoopDaemon):
    daemon = DAEMONS[2]
    name = daemon.name

    def is_ready(self) -> bool:
        found = _get_json(f"http://{HOST}:{self.cluster.ports.resourcemanager_http}/ws/v1/cluster/info")
        return (found or {}).get("clusterInfo", {}).get("state") == "STARTED"


class NodeManager(HadoopDaemon):
    daemon = DAEMONS[3]
    name = daemon.name

    def is_ready(self) -> bool:
        """The ResourceManager counts an active node with memory to give."""
        metrics = resourcemanager_metrics(self.cluster.ports)
        return metrics.get("activeNodes", 0) >= 1 and metrics.get("availableMB", 0) > 0


CLASSES = (NameNode, DataNode, ResourceManager, NodeManager)


def cluster_home(settings) -> Path:
    return settings.paths.local_dir / "hadoop-cluster"


def s3a_env(settings) -> dict[str, str]:
    """The S3 settings s3a_properties reads, from the local stack's settings."""
    return {
        "S3_ENDPOINT_URL": f"http://{settings.host}:{settings.s3_port}",
        "S3_ACCESS_KEY": settings.s3_access_key,
        "S3_SECRET_KEY": settings.s3_secret_key,
        "S3_REGION": settings.s3_region,
    }


def install_cluster(settings, layout: ClusterLayout) -> tuple[Path, Path, str]:
    """The jars, the HDFS UI pages and the shared HADOOP_HOME; idempotent. Returns the Java
    binary, the daemons' jar folder and the Hadoop version."""
    java, client_lib, version = install_jars(dict(settings.java_home_hint), settings.paths.cache_dir)
    daemon_lib = cluster_lib(settings.paths.cache_dir, version)
    hdfs_ui_dir(settings.paths.cache_dir, version)
    files = cluster_site_files(
        s3a_properties(s3a_env(settings)), settings.hadoop_cluster.ports, layout, [daemon_lib, client_lib]
    )
    # The clients' home: bin/hadoop over the client jars, submitting to this cluster.
    write_home(
        layout.home, java=java, lib=client_lib, version=version, mode="single-node YARN cluster", site_files=files
    )
    for directory in (layout.container_logs, layout.data_dir("yarn-nodemanager")):
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
    return java, daemon_lib, version


def summary(settings) -> str:
    """What to do with the cluster once it runs (printed by `up`)."""
    ports = settings.hadoop_cluster.ports
    return (
        f"Hadoop cluster: HDFS hdfs://{HOST}:{ports.namenode}, NameNode UI http://{HOST}:{ports.namenode_http}/, "
        f"YARN UI http://{HOST}:{ports.resourcemanager_http}/cluster\n"
        f"  run the aggregation on it: count-aggregation -r hadoop --hadoop-home {cluster_home(settings)}"
    )
