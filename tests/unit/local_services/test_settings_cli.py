"""Settings from the environment, paths, and the CLI's status table and usage errors."""

from __future__ import annotations

import pytest

from local_services.accounts import Account
from local_services.cli import format_table, main, parse_args
from local_services.paths import Paths
from local_services.service import Status
from local_services.settings import LocalSettings
from pipeline_common.environment import PROJECT_ROOT, SettingsError

from .conftest import LOCAL_ENV

ENV = {
    **LOCAL_ENV,
    "HOME": "/root",
    "SOME_TOKEN": "must-not-leak",
}


def test_defaults_are_the_documented_ports():
    settings = LocalSettings.from_env(ENV)
    assert (settings.kafka_port, settings.es_port, settings.s3_port) == (9092, 9200, 8333)
    assert (settings.kafka_controller_port, settings.kafka_edge_listener_port) == (9093, 9095)
    edge = settings.edge
    assert (edge.host, edge.https_port, edge.kafka_port, edge.hdfs_port) == ("localhost", 8443, 9094, 9871)


def test_direct_client_addresses_give_the_services_ports():
    settings = LocalSettings.from_env(
        {
            **ENV,
            "KAFKA_BOOTSTRAP_SERVERS": "localhost:19092",
            "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "ES_URL": "http://127.0.0.1:19200",
        }
    )
    assert (settings.kafka_port, settings.es_port) == (19092, 19200)
    assert (settings.edge.kafka_port, settings.edge.https_port) == (9094, 8443)


def test_client_addresses_through_the_edge_give_the_edges_ports():
    settings = LocalSettings.from_env(
        {
            **ENV,
            "KAFKA_BOOTSTRAP_SERVERS": "localhost:19094",
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "ES_URL": "https://localhost:18443/elasticsearch",
            "PIPELINE_ES_PORT": "19200",
        }
    )
    assert (settings.edge.kafka_port, settings.edge.https_port) == (19094, 18443)
    assert (settings.kafka_port, settings.es_port) == (9092, 19200)


def test_stage_accounts_come_from_their_own_variables():
    access = LocalSettings.from_env({**ENV, "CONSUMER_KAFKA_USERNAME": "det"}).access
    kafka = dict(access.kafka_accounts)
    assert {stage: a.username for stage, a in kafka.items()} == {
        "producer": "producer",
        "consumer": "det",
        "live_indexer": "live-indexer",
        "archiver": "archiver",
    }
    assert kafka["producer"].password == "pk"
    assert access.archiver_s3_account == (Account("AKIAARCHIVER", "as"), "detections/")
    assert [a.username for _, a in access.es_accounts] == [
        "dashboard-api",
        "batch-indexer",
        "live-indexer",
        "batch-scheduler",
    ]
    users = access.edge_users
    assert [a.username for a in users.elasticsearch] == [
        "elastic",
        "dashboard-api",
        "batch-indexer",
        "live-indexer",
        "batch-scheduler",
    ]
    assert ([a.username for a in users.dashboard], [a.username for a in users.ops]) == (["viewer"], ["ops"])


def test_up_needs_every_stages_account_stopping_none():
    partial = {k: v for k, v in ENV.items() if k != "LIVE_ES_PASSWORD"}
    with pytest.raises(SettingsError, match="LIVE_ES_PASSWORD"):
        LocalSettings.from_env(partial)
    assert LocalSettings.from_env(partial, without={"access"}).access is None


@pytest.mark.parametrize(
    "name, value",
    [
        ("ES_URL", "https://es.example.com:9200"),
        ("KAFKA_BOOTSTRAP_SERVERS", "broker.example.com:9092"),
        ("S3_ENDPOINT_URL", "http://10.0.0.5:8333"),
    ],
)
def test_remote_endpoints_are_refused(name, value):
    with pytest.raises(SettingsError, match=name):
        LocalSettings.from_env({**ENV, name: value})


@pytest.mark.parametrize("missing", ["KAFKA_ADMIN_PASSWORD", "ES_PASSWORD", "S3_SECRET_KEY"])
def test_missing_secret_is_named(missing):
    with pytest.raises(SettingsError, match=missing):
        LocalSettings.from_env({k: v for k, v in ENV.items() if k != missing})


def test_children_get_no_foreign_secrets():
    child = LocalSettings.from_env(ENV).child_env(EXTRA="1")
    assert child == {"PATH": "/usr/bin", "EXTRA": "1"}


def test_repr_shows_no_secret():
    text = repr(LocalSettings.from_env({**ENV, "PRODUCER_KAFKA_PASSWORD": "very-secret-value"}))
    assert "very-secret-value" not in text


def test_paths_default_and_overrides(tmp_path):
    default = Paths.from_env({})
    assert default.local_dir == PROJECT_ROOT / ".local"
    assert default.cache_dir.name == "image-pipeline"
    relative = Paths.from_env({"PIPELINE_LOCAL_DIR": "elsewhere", "PIPELINE_CACHE_DIR": str(tmp_path)})
    assert relative.local_dir == PROJECT_ROOT / "elsewhere"
    assert relative.cache_dir == tmp_path
    assert relative.pid_file("kafka") == PROJECT_ROOT / "elsewhere" / "run" / "kafka.pid"


def test_status_table():
    table = format_table([Status("kafka", 42, 9092, True, 350.4), Status("s3", None, 8333, False, None)], "installed")
    lines = table.splitlines()
    assert lines[1].split() == ["kafka", "42", "9092", "yes", "350"]
    assert lines[2].split() == ["s3", "-", "8333", "no", "-"]
    assert lines[3].split() == ["hadoop", "-", "-", "installed"]
    assert lines[4].split() == ["total", "350"]


def test_unknown_service_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_args(["down", "zookeeper"])
    assert exit_.value.code == 2
    assert "unknown service(s) zookeeper" in capsys.readouterr().err


def test_up_accepts_hadoop_but_down_does_not():
    assert parse_args(["up", "hadoop", "s3"]).services == ["hadoop", "s3"]
    with pytest.raises(SystemExit):
        parse_args(["down", "hadoop"])


def test_help_exits_zero(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    assert "up" in capsys.readouterr().out


def test_created_config_dir_can_be_crossed_but_not_listed_by_others(tmp_path):
    paths = Paths.from_env(
        {"PIPELINE_LOCAL_DIR": str(tmp_path / "local"), "PIPELINE_CACHE_DIR": str(tmp_path / "cache")}
    )
    paths.create()
    paths.create()  # a second `up` keeps it so (Elasticsearch's user must still get through)
    assert paths.config.stat().st_mode & 0o777 == 0o711
    assert all(d.is_dir() for d in (paths.data, paths.logs, paths.run, paths.cache_dir))
