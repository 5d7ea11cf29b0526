"""The one frozen settings object of `local_services`, built in `cli.main`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

from pipeline_common.environment import SettingsError, number, require

from .hadoop_settings import ClusterSettings
from .paths import Paths

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# Passed on to the services' processes; nothing else of the caller's environment is,
# so the services never see secrets that are not theirs.
INHERITED = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR")


def _local_port(name: str, value: str, default_scheme: str) -> int:
    parts = urlsplit(value if "://" in value else f"{default_scheme}://{value}")
    if parts.hostname not in LOCAL_HOSTS or parts.port is None:
        raise SettingsError(
            f"{name}={value!r}: the local services listen on 127.0.0.1 only; give a "
            "127.0.0.1:<port> address, or use PIPELINE_SERVICES=external for a remote stack"
        )
    return parts.port


@dataclass(frozen=True)
class LocalSettings:
    paths: Paths
    kafka_port: int
    kafka_controller_port: int
    kafka_username: str
    kafka_password: str
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
    host: str = "127.0.0.1"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "LocalSettings":
        kafka_bootstrap = env.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092").split(",")[0]
        es_user = env.get("ES_USERNAME", "elastic")
        if es_user != "elastic":
            raise SettingsError(
                f"ES_USERNAME={es_user!r}: the local Elasticsearch only has the built-in `elastic` user"
            )
        return cls(
            paths=Paths.from_env(env),
            kafka_port=_local_port("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap, "kafka"),
            kafka_controller_port=number(env, "PIPELINE_KAFKA_CONTROLLER_PORT", 9093, int),
            kafka_username=require(env, "KAFKA_USERNAME"),
            kafka_password=require(env, "KAFKA_PASSWORD"),
            kafka_admin_password=require(env, "KAFKA_ADMIN_PASSWORD"),
            es_port=_local_port("ES_URL", env.get("ES_URL", "http://127.0.0.1:9200"), "http"),
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
        )

    def child_env(self, **extra: str) -> dict[str, str]:
        env = dict(self.base_env)
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        env.update(extra)
        return env

    def __repr__(self) -> str:  # never print the secrets
        return f"LocalSettings(local_dir={self.paths.local_dir}, cache_dir={self.paths.cache_dir})"
