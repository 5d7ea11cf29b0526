"""The one frozen settings object of `local_services`, built in `cli.main`.

The services are the ones the stages talk to, so their addresses and credentials are
the stages' own settings (S3Settings, KafkaSettings, ElasticsearchSettings); only what
the servers alone need is declared here."""
from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from pipeline_common.environment import Settings, SettingsError, system_variable
from pipeline_common.settings import ElasticsearchSettings, KafkaSettings, S3Settings, Secret

from .hadoop_settings import ClusterSettings
from .paths import Paths

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
Port = Annotated[int, Field(ge=1, le=65535)]
SECOND_STACK = "change them to run a second set of local services beside the first"


def _local_port(name: str, value: str, default_scheme: str) -> int:
    parts = urlsplit(value if "://" in value else f"{default_scheme}://{value}")
    if parts.hostname not in LOCAL_HOSTS or parts.port is None:
        raise ValueError(
            f"{name}={value!r}: the local services listen on 127.0.0.1 only; give a "
            "127.0.0.1:<port> address, or use PIPELINE_SERVICES=external for a remote stack"
        )
    return parts.port


class LocalSettings(Settings):
    paths: Paths
    s3: S3Settings
    kafka: KafkaSettings
    es: ElasticsearchSettings
    hadoop_cluster: ClusterSettings
    kafka_admin_secret: Secret = Field(
        alias="KAFKA_ADMIN_PASSWORD",
        description="The broker's own account, used between its listeners (local stack only).",
    )
    kafka_controller_port: Port = Field(9093, alias="PIPELINE_KAFKA_CONTROLLER_PORT",
                                        description=f"Kafka's controller listener; {SECOND_STACK}.")
    es_transport_port: Port = Field(9300, alias="PIPELINE_ES_TRANSPORT_PORT",
                                    description=f"Elasticsearch's transport port; {SECOND_STACK}.")
    s3_master_port: Port = Field(9333, alias="PIPELINE_S3_MASTER_PORT",
                                 description=f"SeaweedFS master; {SECOND_STACK}.")
    s3_volume_port: Port = Field(9340, alias="PIPELINE_S3_VOLUME_PORT",
                                 description=f"SeaweedFS volume; {SECOND_STACK}.")
    s3_filer_port: Port = Field(8888, alias="PIPELINE_S3_FILER_PORT", description=f"SeaweedFS filer; {SECOND_STACK}.")
    s3_admin_port: Port = Field(23646, alias="PIPELINE_S3_ADMIN_PORT", description=f"SeaweedFS admin; {SECOND_STACK}.")
    java_home: str = Field("", alias="PIPELINE_JAVA_HOME",
                           description="Java 17+ for Kafka, Elasticsearch and Hadoop; default: JAVA_HOME, `java` on "
                           "PATH, /usr/lib/jvm/*17*.")
    # The operating system's, passed on to the services' processes; nothing else of the
    # caller's environment is, so the services never see secrets that are not theirs.
    system_java_home: str | None = system_variable("JAVA_HOME", "Java install (fallback after PIPELINE_JAVA_HOME).")
    path: str | None = system_variable("PATH", "Where programs are found.")
    lang: str | None = system_variable("LANG", "Locale.")
    lc_all: str | None = system_variable("LC_ALL", "Locale override.")
    tz: str | None = system_variable("TZ", "Time zone.")
    tmpdir: str | None = system_variable("TMPDIR", "Temporary files.")
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
            problems.append(f"ES_USERNAME={self.es.username!r}: the local Elasticsearch only has the built-in "
                            "`elastic` user")
        missing = [f"{name} (the local broker speaks SASL)" for name, value in
                   (("KAFKA_USERNAME", self.kafka.username), ("KAFKA_PASSWORD", self.kafka.password)) if not value]
        if problems or missing:
            raise SettingsError(*problems, missing=missing)
        return self

    @property
    def kafka_port(self) -> int:
        return _local_port("KAFKA_BOOTSTRAP_SERVERS", self.kafka.bootstrap_servers.split(",")[0], "kafka")

    @property
    def es_port(self) -> int:
        return _local_port("ES_URL", self.es.url, "http")

    @property
    def s3_port(self) -> int:
        return _local_port("S3_ENDPOINT_URL", self.s3.endpoint_url, "http")

    @property
    def s3_internal_ports(self) -> tuple[int, int, int, int]:
        """SeaweedFS master, volume, filer, admin."""
        return self.s3_master_port, self.s3_volume_port, self.s3_filer_port, self.s3_admin_port

    @property
    def kafka_admin_password(self) -> str:
        return self.kafka_admin_secret.get_secret_value()

    @property
    def kafka_username(self) -> str:
        return self.kafka.username

    @property
    def kafka_password(self) -> str:
        return self.kafka.password.get_secret_value() if self.kafka.password else ""

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

    @property
    def java_home_hint(self) -> dict[str, str]:
        """What `java.java_home` searches: PIPELINE_JAVA_HOME, JAVA_HOME, then PATH."""
        hint = {"PIPELINE_JAVA_HOME": self.java_home, "JAVA_HOME": self.system_java_home, "PATH": self.path}
        return {name: value for name, value in hint.items() if value}

    def child_env(self, **extra: str) -> dict[str, str]:
        inherited = {"PATH": self.path, "LANG": self.lang, "LC_ALL": self.lc_all, "TZ": self.tz, "TMPDIR": self.tmpdir}
        env = {name: value for name, value in inherited.items() if value is not None}
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        env.update(extra)
        return env
