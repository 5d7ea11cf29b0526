"""Settings of the local Hadoop cluster (local_services/hadoop_cluster.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from pipeline_common.environment import Settings

Port = Annotated[int, Field(ge=1, le=65535)]


def _port(default: int, name: str, what: str):
    return Field(
        default, alias=f"PIPELINE_HADOOP_{name}_PORT", description=f"The local Hadoop cluster's {what}, on 127.0.0.1."
    )


class ClusterPorts(Settings):
    """Every port the daemons listen on, all on 127.0.0.1; each is the variable
    PIPELINE_HADOOP_<FIELD>_PORT. The defaults are Hadoop 3's, except the NodeManager's
    (Hadoop picks a random one)."""

    namenode: Port = _port(8020, "NAMENODE", "HDFS RPC port (fs.defaultFS)")
    namenode_http: Port = _port(9870, "NAMENODE_HTTP", "NameNode web UI port")
    datanode: Port = _port(9866, "DATANODE", "DataNode block transfer port")
    datanode_http: Port = _port(9864, "DATANODE_HTTP", "DataNode web port")
    datanode_ipc: Port = _port(9867, "DATANODE_IPC", "DataNode IPC port")
    resourcemanager: Port = _port(8032, "RESOURCEMANAGER", "ResourceManager job submission port")
    resourcemanager_scheduler: Port = _port(8030, "RESOURCEMANAGER_SCHEDULER", "ResourceManager scheduler port")
    resourcemanager_tracker: Port = _port(8031, "RESOURCEMANAGER_TRACKER", "ResourceManager resource tracker port")
    resourcemanager_admin: Port = _port(8033, "RESOURCEMANAGER_ADMIN", "ResourceManager admin port")
    resourcemanager_http: Port = _port(8088, "RESOURCEMANAGER_HTTP", "ResourceManager web UI and REST port")
    nodemanager: Port = _port(8041, "NODEMANAGER", "NodeManager container manager port")
    nodemanager_localizer: Port = _port(8040, "NODEMANAGER_LOCALIZER", "NodeManager localizer port")
    nodemanager_http: Port = _port(8042, "NODEMANAGER_HTTP", "NodeManager web port")
    shuffle: Port = _port(13562, "SHUFFLE", "mapreduce_shuffle aux service port")


class ClusterSettings(Settings):
    ports: ClusterPorts = Field(default_factory=ClusterPorts)
    enabled: bool = Field(
        False,
        alias="PIPELINE_HADOOP_CLUSTER",
        description="A plain `make up` starts the single-node Hadoop cluster (HDFS + YARN) too.",
    )
