"""Settings of the local Hadoop cluster (local_services/hadoop_cluster.py)."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Mapping

from pipeline_common.environment import flag, number


@dataclass(frozen=True)
class ClusterPorts:
    """Every port the daemons listen on, all on 127.0.0.1; each is the variable
    PIPELINE_HADOOP_<FIELD>_PORT. The defaults are Hadoop 3's, except the NodeManager's
    (Hadoop picks a random one)."""

    namenode: int = 8020  # HDFS RPC: fs.defaultFS
    namenode_http: int = 9870  # the NameNode web UI
    datanode: int = 9866  # block transfer
    datanode_http: int = 9864
    datanode_ipc: int = 9867
    resourcemanager: int = 8032  # job submission
    resourcemanager_scheduler: int = 8030
    resourcemanager_tracker: int = 8031
    resourcemanager_admin: int = 8033
    resourcemanager_http: int = 8088  # web UI and REST API
    nodemanager: int = 8041  # container manager
    nodemanager_localizer: int = 8040
    nodemanager_http: int = 8042
    shuffle: int = 13562  # the mapreduce_shuffle aux service

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "ClusterPorts":
        return cls(**{
            field.name: number(env, f"PIPELINE_HADOOP_{field.name.upper()}_PORT", field.default, int)
            for field in fields(cls)
        })


@dataclass(frozen=True)
class ClusterSettings:
    enabled: bool  # PIPELINE_HADOOP_CLUSTER: a plain `up` starts the cluster too
    ports: ClusterPorts

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "ClusterSettings":
        return cls(enabled=flag(env, "PIPELINE_HADOOP_CLUSTER", False), ports=ClusterPorts.from_env(env))
