"""The one frozen settings object of `local_services`, built in `cli.main`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

from pipeline_common.environment import SettingsError, number, require

from .hadoop_settings import ClusterSettings
from .accounts import Account, EdgeUsers, Names
from .paths import Paths

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# Passed on to the services' processes; nothing else of the caller's environment is,
# so the services never see secrets that are not theirs.
INHERITED = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR")
# What building the Go tools (scripts/go_tool.sh) needs of the caller's environment.
GO_BUILD = ("HOME", "PATH", "TMPDIR", "GOPATH", "GOMODCACHE", "GOCACHE", "GOPROXY", "GOFLAGS", "GOTOOLCHAIN")
# Each stage's own account: (stage, variable prefix, default user name).
KAFKA_ACCOUNTS = (("producer", "PRODUCER", "producer"), ("consumer", "CONSUMER", "detector"),
                  ("live_indexer", "LIVE", "live-indexer"))
ES_ACCOUNTS = (("api", "FRONTEND", "dashboard-api"), ("indexer", "INDEXER", "batch-indexer"),
               ("live_indexer", "LIVE", "live-indexer"), ("scheduler", "SCHEDULER", "batch-scheduler"))


def _local_port(name: str, value: str, default_scheme: str) -> int:
    parts = urlsplit(value if "://" in value else f"{default_scheme}://{value}")
    if parts.hostname not in LOCAL_HOSTS or parts.port is None:
        raise SettingsError(
            f"{name}={value!r}: the local services listen on 127.0.0.1 only; give a "
            "127.0.0.1:<port> address, or use PIPELINE_SERVICES=external for a remote stack"
        )
    return parts.port


def _port(env: Mapping[str, str], name: str, derived: int | None, default: int) -> int:
    """PIPELINE_<...>_PORT when set, else the port a client address names, else the default."""
    return number(env, name, derived or default, int)


def _account(env: Mapping[str, str], prefix: str, default_user: str) -> Account | None:
    """The account of <prefix>_USERNAME / <prefix>_PASSWORD; None when no password is set
    (an older .env: `up` adds the missing accounts before it reads them)."""
    password = env.get(f"{prefix}_PASSWORD", "").strip()
    if not password:
        return None
    return Account(env.get(f"{prefix}_USERNAME", "").strip() or default_user, password)


@dataclass(frozen=True)
class AccessSettings:
    """Who may do what (accounts.py): the stages' accounts in .env and the names their
    rights are about. Read by `up` and by `accounts`, which applies it to any stack."""

    kafka_accounts: tuple[tuple[str, Account], ...]  # (stage, account) for those in .env
    es_accounts: tuple[tuple[str, Account], ...]
    edge_users: EdgeUsers
    names: Names
    topic_partitions: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "AccessSettings":
        es_accounts = tuple((stage, account) for stage, prefix, user in ES_ACCOUNTS
                            if (account := _account(env, f"{prefix}_ES", user)))
        return cls(
            kafka_accounts=tuple((stage, account) for stage, prefix, user in KAFKA_ACCOUNTS
                                 if (account := _account(env, f"{prefix}_KAFKA", user))),
            es_accounts=es_accounts,
            edge_users=EdgeUsers(
                # Traefik checks every Elasticsearch account before Elasticsearch does
                elasticsearch=(Account(env.get("ES_USERNAME", "").strip() or "elastic", require(env, "ES_PASSWORD")),
                               *(account for _, account in es_accounts)),
                dashboard=tuple(a for a in [_account(env, "EDGE_DASHBOARD", "viewer")] if a),
                ops=tuple(a for a in [_account(env, "EDGE_OPS", "ops")] if a),
            ),
            names=Names(
                images_topic=env.get("KAFKA_IMAGES_TOPIC", "").strip() or "images",
                dead_letter_topic=env.get("KAFKA_DEAD_LETTER_TOPIC", "").strip() or "images-dead-letter",
                detections_topic=env.get("KAFKA_DETECTIONS_TOPIC", "").strip() or "detections",
                detections_dead_letter_topic=(env.get("KAFKA_DETECTIONS_DEAD_LETTER_TOPIC", "").strip()
                                              or "detections-dead-letter"),
                consumer_group=env.get("KAFKA_CONSUMER_GROUP", "").strip() or "object-detector",
                live_group=env.get("LIVE_CONSUMER_GROUP", "").strip() or "live-indexer",
                batch_index=env.get("ES_INDEX", "").strip() or "hadoop-object-counts-v1",
                live_index_prefix=env.get("ES_LIVE_INDEX_PREFIX", "").strip() or "object-counts-live-",
                runs_index=env.get("ES_RUNS_INDEX", "").strip() or "pipeline-batch-runs",
                lock_index=env.get("SCHEDULER_LOCK_INDEX", "").strip() or "pipeline-batch-locks",
            ),
            topic_partitions=number(env, "KAFKA_IMAGES_TOPIC_PARTITIONS", 3, int),
        )

    def topics(self) -> dict[str, int]:
        """The pipeline's topics and their partitions, created before the ACLs."""
        n = self.names
        return {n.images_topic: self.topic_partitions, n.dead_letter_topic: 1,
                n.detections_topic: self.topic_partitions, n.detections_dead_letter_topic: 1}


@dataclass(frozen=True)
class EdgeSettings:
    """Traefik's side of the local stack (see traefik.py)."""

    host: str  # the name clients use (SNI, Host header); the certificate is issued for it
    https_port: int
    kafka_port: int
    hdfs_port: int
    dashboard_port: int  # where the dashboard is served behind the edge (FRONTEND_PORT)
    hdfs_ui_backend: str  # the NameNode UI's URL; empty: no HDFS router
    users: EdgeUsers

    @property
    def https_url(self) -> str:
        return f"https://{self.host}:{self.https_port}"

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"


@dataclass(frozen=True)
class LocalSettings:
    paths: Paths
    kafka_port: int
    kafka_controller_port: int
    kafka_admin_password: str
    es_port: int
    es_transport_port: int
    es_username: str
    es_password: str
    s3_port: int
    s3_access_key: str
    s3_secret_key: str
    s3_bucket: str
    s3_region: str
    s3_internal_ports: tuple[int, int, int, int]  # SeaweedFS master, volume, filer, admin
    hadoop_cluster: ClusterSettings
    base_env: tuple[tuple[str, str], ...]
    java_home_hint: tuple[tuple[str, str], ...]
    kafka_edge_listener_port: int  # the broker's listener behind the edge
    access: AccessSettings
    edge: EdgeSettings
    build_env: tuple[tuple[str, str], ...]
    host: str = "127.0.0.1"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "LocalSettings":
        kafka_bootstrap = env.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092").split(",")[0]
        protocol = env.get("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT").strip().upper()
        es_url = env.get("ES_URL", "http://127.0.0.1:9200")
        es_user = env.get("ES_USERNAME", "elastic")
        if es_user != "elastic":
            raise SettingsError(
                f"ES_USERNAME={es_user!r}: the local Elasticsearch's administrator is the built-in `elastic` user"
            )
        # Clients reach a service through the edge (SASL_SSL, https://) or directly; the
        # address they use also gives the port of what it names, unless PIPELINE_*_PORT
        # says otherwise.
        kafka_named = _local_port("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap, "kafka")
        kafka_via_edge = protocol in {"SASL_SSL", "SSL"}
        es_named = _local_port("ES_URL", es_url, "http")
        es_via_edge = urlsplit(es_url).scheme == "https"
        access = AccessSettings.from_env(env)
        edge = EdgeSettings(
            host=env.get("PIPELINE_EDGE_HOST", "").strip() or "localhost",
            https_port=_port(env, "PIPELINE_EDGE_HTTPS_PORT", es_named if es_via_edge else None, 8443),
            kafka_port=_port(env, "PIPELINE_EDGE_KAFKA_PORT", kafka_named if kafka_via_edge else None, 9094),
            hdfs_port=number(env, "PIPELINE_EDGE_HDFS_PORT", 9871, int),
            dashboard_port=number(env, "FRONTEND_PORT", 5001, int),
            hdfs_ui_backend=env.get("PIPELINE_EDGE_HDFS_UI_BACKEND", "").strip(),
            users=access.edge_users,
        )
        return cls(
            paths=Paths.from_env(env),
            kafka_port=_port(env, "PIPELINE_KAFKA_PORT", None if kafka_via_edge else kafka_named, 9092),
            kafka_controller_port=number(env, "PIPELINE_KAFKA_CONTROLLER_PORT", 9093, int),
            kafka_admin_password=require(env, "KAFKA_ADMIN_PASSWORD"),
            es_port=_port(env, "PIPELINE_ES_PORT", None if es_via_edge else es_named, 9200),
            es_transport_port=number(env, "PIPELINE_ES_TRANSPORT_PORT", 9300, int),
            es_username=es_user,
            es_password=require(env, "ES_PASSWORD"),
            s3_port=_local_port(
                "S3_ENDPOINT_URL", env.get("S3_ENDPOINT_URL", "http://127.0.0.1:8333"), "http"
            ),
            s3_access_key=require(env, "S3_ACCESS_KEY"),
            s3_secret_key=require(env, "S3_SECRET_KEY"),
            s3_bucket=env.get("S3_BUCKET", "image-pipeline"),
            s3_region=env.get("S3_REGION", "us-east-1"),
            s3_internal_ports=tuple(  # type: ignore[arg-type]
                number(env, f"PIPELINE_S3_{part}_PORT", default, int)
                for part, default in (("MASTER", 9333), ("VOLUME", 9340), ("FILER", 8888), ("ADMIN", 23646))
            ),
            hadoop_cluster=ClusterSettings.from_env(env),
            base_env=tuple((k, env[k]) for k in INHERITED if k in env),
            java_home_hint=tuple(
                (k, env[k]) for k in ("PIPELINE_JAVA_HOME", "JAVA_HOME", "PATH") if k in env
            ),
            kafka_edge_listener_port=number(env, "PIPELINE_KAFKA_EDGE_LISTENER_PORT", 9095, int),
            access=access,
            edge=edge,
            build_env=tuple((k, env[k]) for k in GO_BUILD if k in env),
        )

    def child_env(self, **extra: str) -> dict[str, str]:
        env = dict(self.base_env)
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        env.update(extra)
        return env

    def __repr__(self) -> str:  # never print the secrets
        return f"LocalSettings(local_dir={self.paths.local_dir}, cache_dir={self.paths.cache_dir})"
