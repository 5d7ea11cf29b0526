"""The one frozen settings object of `local_services`, built in `cli.main`, and who may do
what (AccessSettings, also read by `local-services accounts` for a production stack).

The services are the ones the stages talk to, so their addresses and credentials are
the stages' own settings (S3Settings, the Kafka and Elasticsearch settings of each
account); only what the servers alone need is declared here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator

from pipeline_common.environment import Settings, SettingsError, system_variable
from pipeline_common.settings import (
    ArchivePrefix,
    ArchiverGroup,
    ArchiverKafkaSettings,
    ArchiverS3Settings,
    ConsumerKafkaSettings,
    DashboardPort,
    DetectionsDeadLetterTopic,
    DetectorGroup,
    ElasticsearchSettings,
    FrontendElasticsearchSettings,
    FrontendS3Settings,
    ImagesTopicPartitions,
    IndexerElasticsearchSettings,
    KafkaAdminSettings,
    LiveElasticsearchSettings,
    LiveGroup,
    LiveKafkaSettings,
    ProducerKafkaSettings,
    S3Settings,
    SchedulerElasticsearchSettings,
    SchedulerLockIndex,
    Secret,
)

from .accounts import Account, EdgeUsers, Names, s3_identities
from .hadoop_settings import ClusterSettings
from .paths import Paths

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
Port = Annotated[int, Field(ge=1, le=65535)]
SECOND_STACK = "change them to run a second set of local services beside the first"
# What building the Go tools (scripts/go_tool.sh) needs of the caller's environment.
GO_BUILD = ("HOME", "PATH", "TMPDIR", "GOPATH", "GOMODCACHE", "GOCACHE", "GOPROXY", "GOFLAGS", "GOTOOLCHAIN")


def _local_port(name: str, value: str, default_scheme: str) -> int:
    parts = urlsplit(value if "://" in value else f"{default_scheme}://{value}")
    if parts.hostname not in LOCAL_HOSTS or parts.port is None:
        raise ValueError(
            f"{name}={value!r}: the local services listen on 127.0.0.1 only; give a "
            "127.0.0.1:<port> address, or use PIPELINE_SERVICES=external for a remote stack"
        )
    return parts.port


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value else ""


class EdgeAccounts(Settings):
    """The edge's own basic-auth accounts (Traefik's users files)."""

    dashboard_username: str = Field(
        "viewer",
        alias="EDGE_DASHBOARD_USERNAME",
        min_length=1,
        description="Who may open the dashboard and its API through the edge.",
    )
    dashboard_password: Secret = Field(
        alias="EDGE_DASHBOARD_PASSWORD", description="Password of EDGE_DASHBOARD_USERNAME."
    )
    ops_username: str = Field(
        "ops",
        alias="EDGE_OPS_USERNAME",
        min_length=1,
        description="The operators' account: Traefik's own API (/traefik/) and the HDFS UI.",
    )
    ops_password: Secret = Field(alias="EDGE_OPS_PASSWORD", description="Password of EDGE_OPS_USERNAME.")


class AccessSettings(Settings):
    """Who may do what (accounts.py): every stage's own account as that stage reads it, the
    administrators', the edge's, and the names the rights are about."""

    kafka_admin: KafkaAdminSettings  # also the topics' names
    s3_admin: S3Settings  # the pipeline's S3 account (S3_*)
    es_admin: ElasticsearchSettings  # `elastic`; also the indices' names
    producer: ProducerKafkaSettings
    detector: ConsumerKafkaSettings
    live_kafka: LiveKafkaSettings
    archiver_kafka: ArchiverKafkaSettings
    archiver_s3: ArchiverS3Settings
    api_es: FrontendElasticsearchSettings
    api_s3: FrontendS3Settings  # the dashboard's own S3 keys (reads images/ only)
    indexer_es: IndexerElasticsearchSettings
    live_es: LiveElasticsearchSettings
    scheduler_es: SchedulerElasticsearchSettings
    edge: EdgeAccounts
    consumer_group: DetectorGroup = "object-detector"
    live_group: LiveGroup = "live-indexer"
    archiver_group: ArchiverGroup = "detection-archiver"
    archive_prefix: ArchivePrefix = "detections/"
    detections_dead_letter_topic: DetectionsDeadLetterTopic = "detections-dead-letter"
    lock_index: SchedulerLockIndex = "pipeline-batch-locks"
    topic_partitions: ImagesTopicPartitions = 3

    @property
    def kafka_accounts(self) -> tuple[tuple[str, Account], ...]:
        """(stage, account) of the stages that log in (none with a protocol without SASL)."""
        stages = (
            ("producer", self.producer),
            ("consumer", self.detector),
            ("live_indexer", self.live_kafka),
            ("archiver", self.archiver_kafka),
        )
        return tuple(
            (stage, Account(kafka.username, _secret(kafka.password))) for stage, kafka in stages if kafka.username
        )

    @property
    def archiver_s3_account(self) -> tuple[Account, str]:
        """The archiver's S3 account and the prefix it may write under."""
        s3 = self.archiver_s3
        return Account(s3.access_key.get_secret_value(), s3.secret_key.get_secret_value()), self.archive_prefix

    def s3_identities(self) -> dict:
        """SeaweedFS's identities file (accounts.s3_identities): the pipeline's account, the
        dashboard's (reads images/ only) and the archiver's (writes the archive only). The
        same for the local stack and for a SeaweedFS container (docker-compose.dev.yml)."""
        admin, dashboard = self.s3_admin, self.api_s3
        return s3_identities(
            Account(admin.access_key.get_secret_value(), admin.secret_key.get_secret_value()),
            Account(dashboard.access_key.get_secret_value(), dashboard.secret_key.get_secret_value()),
            admin.bucket,
            self.archiver_s3_account,
        )

    @property
    def es_accounts(self) -> tuple[tuple[str, Account], ...]:
        stages = (
            ("api", self.api_es),
            ("indexer", self.indexer_es),
            ("live_indexer", self.live_es),
            ("scheduler", self.scheduler_es),
        )
        return tuple((stage, Account(es.username, es.password.get_secret_value())) for stage, es in stages)

    @property
    def edge_users(self) -> EdgeUsers:
        return EdgeUsers(
            # Traefik checks every Elasticsearch account before Elasticsearch does
            elasticsearch=(
                Account(self.es_admin.username, self.es_admin.password.get_secret_value()),
                *(account for _, account in self.es_accounts),
            ),
            dashboard=(Account(self.edge.dashboard_username, self.edge.dashboard_password.get_secret_value()),),
            ops=(Account(self.edge.ops_username, self.edge.ops_password.get_secret_value()),),
        )

    @property
    def names(self) -> Names:
        kafka, es = self.kafka_admin, self.es_admin
        return Names(
            images_topic=kafka.images_topic,
            dead_letter_topic=kafka.dead_letter_topic,
            detections_topic=kafka.detections_topic,
            detections_dead_letter_topic=self.detections_dead_letter_topic,
            consumer_group=self.consumer_group,
            live_group=self.live_group,
            archiver_group=self.archiver_group,
            batch_index=es.index,
            live_index_prefix=es.live_index_prefix,
            runs_index=es.runs_index,
            lock_index=self.lock_index,
            alert_rules_index=es.alert_rules_index,
            alerts_index=es.alerts_index,
        )

    def topics(self) -> dict[str, int]:
        """The pipeline's topics and their partitions, created before the ACLs."""
        n = self.names
        return {
            n.images_topic: self.topic_partitions,
            n.dead_letter_topic: 1,
            n.detections_topic: self.topic_partitions,
            n.detections_dead_letter_topic: 1,
        }


@dataclass(frozen=True)
class Edge:
    """Traefik's side of the local stack (traefik.py), its ports resolved."""

    host: str  # the name clients use (SNI, Host header); the certificate is issued for it
    https_port: int
    kafka_port: int
    hdfs_port: int
    dashboard_port: int  # where the dashboard is served behind the edge (FRONTEND_PORT)
    hdfs_ui_backend: str  # the NameNode UI's URL; empty: the local cluster's
    users: EdgeUsers

    @property
    def https_url(self) -> str:
        return f"https://{self.host}:{self.https_port}"

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"


class LocalSettings(Settings):
    paths: Paths
    s3: S3Settings
    kafka: KafkaAdminSettings  # the broker's own account: readiness, topics, ACLs
    es: ElasticsearchSettings  # `elastic`: readiness
    hadoop_cluster: ClusterSettings
    access: AccessSettings | None  # None for commands that start nothing (`down`, `status`)
    dashboard_port: DashboardPort = 5001
    # Clients reach Kafka and Elasticsearch through the edge (SASL_SSL, https://) or
    # directly; the address they use gives the port of what it names (see the properties),
    # unless one of these says otherwise.
    kafka_port_setting: Port | None = Field(
        None,
        alias="PIPELINE_KAFKA_PORT",
        description=f"The broker's own client listener; default: KAFKA_BOOTSTRAP_SERVERS's port when that names the "
        f"broker (SASL_PLAINTEXT), else 9092; {SECOND_STACK}.",
    )
    kafka_edge_listener_port: Port = Field(
        9095,
        alias="PIPELINE_KAFKA_EDGE_LISTENER_PORT",
        description=f"The broker's listener behind the edge (it advertises the edge's address); {SECOND_STACK}.",
    )
    kafka_controller_port: Port = Field(
        9093, alias="PIPELINE_KAFKA_CONTROLLER_PORT", description=f"Kafka's controller listener; {SECOND_STACK}."
    )
    es_port_setting: Port | None = Field(
        None,
        alias="PIPELINE_ES_PORT",
        description=f"Elasticsearch's own HTTP port; default: ES_URL's port when that names it (http://), else 9200; "
        f"{SECOND_STACK}.",
    )
    es_transport_port: Port = Field(
        9300, alias="PIPELINE_ES_TRANSPORT_PORT", description=f"Elasticsearch's transport port; {SECOND_STACK}."
    )
    edge_host: str = Field(
        "localhost",
        alias="PIPELINE_EDGE_HOST",
        min_length=1,
        description="Host name of the edge: what clients connect to (SNI) and its certificate names.",
    )
    edge_https_port: Port | None = Field(
        None,
        alias="PIPELINE_EDGE_HTTPS_PORT",
        description=f"The edge's HTTPS entry point; default: ES_URL's port when it is https://, else 8443; "
        f"{SECOND_STACK}.",
    )
    edge_kafka_port: Port | None = Field(
        None,
        alias="PIPELINE_EDGE_KAFKA_PORT",
        description=f"The edge's Kafka TLS entry point; default: KAFKA_BOOTSTRAP_SERVERS's port with SASL_SSL, "
        f"else 9094; {SECOND_STACK}.",
    )
    edge_hdfs_port: Port = Field(
        9871,
        alias="PIPELINE_EDGE_HDFS_PORT",
        description=f"The edge's entry point of the HDFS NameNode UI; {SECOND_STACK}.",
    )
    edge_hdfs_ui_backend: str = Field(
        "",
        alias="PIPELINE_EDGE_HDFS_UI_BACKEND",
        description="The NameNode UI behind the edge's hdfs entry point; empty: the local Hadoop cluster's.",
    )
    s3_master_port: Port = Field(
        9333, alias="PIPELINE_S3_MASTER_PORT", description=f"SeaweedFS master; {SECOND_STACK}."
    )
    s3_volume_port: Port = Field(
        9340, alias="PIPELINE_S3_VOLUME_PORT", description=f"SeaweedFS volume; {SECOND_STACK}."
    )
    s3_filer_port: Port = Field(8888, alias="PIPELINE_S3_FILER_PORT", description=f"SeaweedFS filer; {SECOND_STACK}.")
    s3_admin_port: Port = Field(23646, alias="PIPELINE_S3_ADMIN_PORT", description=f"SeaweedFS admin; {SECOND_STACK}.")
    java_home: str = Field(
        "",
        alias="PIPELINE_JAVA_HOME",
        description="Java 17+ for Kafka, Elasticsearch and Hadoop; default: JAVA_HOME, `java` on "
        "PATH, /usr/lib/jvm/*17*.",
    )
    # The operating system's, passed on to the services' processes; nothing else of the
    # caller's environment is, so the services never see secrets that are not theirs.
    system_java_home: str | None = system_variable("JAVA_HOME", "Java install (fallback after PIPELINE_JAVA_HOME).")
    path: str | None = system_variable("PATH", "Where programs are found.")
    lang: str | None = system_variable("LANG", "Locale.")
    lc_all: str | None = system_variable("LC_ALL", "Locale override.")
    tz: str | None = system_variable("TZ", "Time zone.")
    tmpdir: str | None = system_variable("TMPDIR", "Temporary files.")
    # What the Go builds (scripts/go_tool.sh) need.
    home: str | None = system_variable("HOME", "Home directory (Go's module and build caches).")
    gopath: str | None = system_variable("GOPATH", "Go's workspace.")
    gomodcache: str | None = system_variable("GOMODCACHE", "Go's module cache.")
    gocache: str | None = system_variable("GOCACHE", "Go's build cache.")
    goproxy: str | None = system_variable("GOPROXY", "Go's module proxy.")
    goflags: str | None = system_variable("GOFLAGS", "Go's default flags.")
    gotoolchain: str | None = system_variable("GOTOOLCHAIN", "Which Go toolchain builds.")
    host: str = "127.0.0.1"  # the services listen here and nowhere else

    @model_validator(mode="after")
    def _a_local_stack(self) -> LocalSettings:
        problems = []
        for name, value, scheme in (
            ("KAFKA_BOOTSTRAP_SERVERS", self.kafka.bootstrap_servers.split(",")[0], "kafka"),
            ("ES_URL", self.es.url, "http"),
            ("S3_ENDPOINT_URL", self.s3.endpoint_url, "http"),
        ):
            try:
                _local_port(name, value, scheme)
            except ValueError as error:
                problems.append(str(error))
        if self.es.username != "elastic":
            problems.append(
                f"ES_USERNAME={self.es.username!r}: the local Elasticsearch's administrator is the "
                "built-in `elastic` user"
            )
        if problems:
            raise SettingsError(*problems)
        return self

    # --- ports -------------------------------------------------------------------------
    @property
    def _kafka_named(self) -> tuple[int, bool]:
        """(port KAFKA_BOOTSTRAP_SERVERS names, whether it is the edge's)."""
        port = _local_port("KAFKA_BOOTSTRAP_SERVERS", self.kafka.bootstrap_servers.split(",")[0], "kafka")
        return port, self.kafka.security_protocol in {"SASL_SSL", "SSL"}

    @property
    def _es_named(self) -> tuple[int, bool]:
        return _local_port("ES_URL", self.es.url, "http"), urlsplit(self.es.url).scheme == "https"

    @property
    def kafka_port(self) -> int:
        port, via_edge = self._kafka_named
        return self.kafka_port_setting or (9092 if via_edge else port)

    @property
    def es_port(self) -> int:
        port, via_edge = self._es_named
        return self.es_port_setting or (9200 if via_edge else port)

    @property
    def s3_port(self) -> int:
        return _local_port("S3_ENDPOINT_URL", self.s3.endpoint_url, "http")

    @property
    def s3_internal_ports(self) -> tuple[int, int, int, int]:
        """SeaweedFS master, volume, filer, admin."""
        return self.s3_master_port, self.s3_volume_port, self.s3_filer_port, self.s3_admin_port

    @property
    def edge(self) -> Edge:
        kafka_port, kafka_via_edge = self._kafka_named
        es_port, es_via_edge = self._es_named
        return Edge(
            host=self.edge_host,
            https_port=self.edge_https_port or (es_port if es_via_edge else 8443),
            kafka_port=self.edge_kafka_port or (kafka_port if kafka_via_edge else 9094),
            hdfs_port=self.edge_hdfs_port,
            dashboard_port=self.dashboard_port,
            hdfs_ui_backend=self.edge_hdfs_ui_backend,
            users=self.access.edge_users if self.access else EdgeUsers((), (), ()),
        )

    # --- credentials ---------------------------------------------------------------------
    @property
    def kafka_admin_password(self) -> str:
        return _secret(self.kafka.password)

    @property
    def es_username(self) -> str:
        return self.es.username

    @property
    def es_password(self) -> str:
        return self.es.password.get_secret_value()

    @property
    def s3_access_key(self) -> str:
        return self.s3.access_key.get_secret_value()

    @property
    def s3_secret_key(self) -> str:
        return self.s3.secret_key.get_secret_value()

    @property
    def s3_bucket(self) -> str:
        return self.s3.bucket

    @property
    def s3_region(self) -> str:
        return self.s3.region

    # --- child processes -----------------------------------------------------------------
    @property
    def java_home_hint(self) -> dict[str, str]:
        """What `java.java_home` searches: PIPELINE_JAVA_HOME, JAVA_HOME, then PATH."""
        hint = {"PIPELINE_JAVA_HOME": self.java_home, "JAVA_HOME": self.system_java_home, "PATH": self.path}
        return {name: value for name, value in hint.items() if value}

    @property
    def build_env(self) -> tuple[tuple[str, str], ...]:
        values = dict(
            zip(
                GO_BUILD,
                (
                    self.home,
                    self.path,
                    self.tmpdir,
                    self.gopath,
                    self.gomodcache,
                    self.gocache,
                    self.goproxy,
                    self.goflags,
                    self.gotoolchain,
                ),
                strict=True,
            )
        )
        return tuple((name, value) for name, value in values.items() if value)

    def child_env(self, **extra: str) -> dict[str, str]:
        inherited = {"PATH": self.path, "LANG": self.lang, "LC_ALL": self.lc_all, "TZ": self.tz, "TMPDIR": self.tmpdir}
        env = {name: value for name, value in inherited.items() if value is not None}
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        env.update(extra)
        return env
