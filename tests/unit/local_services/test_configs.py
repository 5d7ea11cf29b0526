"""The generated service configurations: loopback only, credentials required everywhere."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from local_services.accounts import Account, jaas_config, s3_identities
from local_services.elasticsearch import elasticsearch_yml
from local_services.errors import ServiceError
from local_services.kafka import new_cluster_id, server_properties
from local_services.s3 import security_toml, weed_options
from pipeline_common.local_state import traversable_by_others


def kafka_config() -> dict[str, str]:
    text = server_properties(
        host="127.0.0.1",
        port=9092,
        controller_port=9093,
        edge_port=9095,
        edge_address="localhost:9094",
        log_dir="/data",
        admin_password="adm1n",
        accounts=[Account("producer", "p4ss")],
    )
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_kafka_has_no_unauthenticated_listener():
    config = kafka_config()
    protocols = dict(item.split(":") for item in config["listener.security.protocol.map"].split(","))
    listeners = [item.split("://")[0] for item in config["listeners"].split(",")]
    assert {protocols[name] for name in listeners} == {"SASL_PLAINTEXT"}
    assert config["inter.broker.listener.name"] == "CLIENT"
    assert config["sasl.enabled.mechanisms"] == "PLAIN"


def test_kafka_listens_on_loopback_only():
    config = kafka_config()
    assert config["listeners"] == "CLIENT://127.0.0.1:9092,EDGE://127.0.0.1:9095,CONTROLLER://127.0.0.1:9093"


def test_kafka_edge_listener_advertises_the_edge():
    """Clients that came through Traefik are sent back through Traefik for every broker."""
    assert kafka_config()["advertised.listeners"] == "CLIENT://127.0.0.1:9092,EDGE://localhost:9094"


def test_kafka_accounts_are_in_both_client_listeners_jaas():
    config = kafka_config()
    for listener in ("client", "edge"):
        jaas = config[f"listener.name.{listener}.plain.sasl.jaas.config"]
        assert 'user_producer="p4ss"' in jaas and 'user_admin="adm1n"' in jaas
        assert 'username="admin" password="adm1n"' in jaas
        assert jaas.endswith(";")
    assert "producer" not in config["listener.name.controller.plain.sasl.jaas.config"]


def test_kafka_allows_nothing_without_an_acl_but_to_its_own_account():
    config = kafka_config()
    assert config["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert config["super.users"] == "User:admin"
    assert config["allow.everyone.if.no.acl.found"] == "false"
    assert config["auto.create.topics.enable"] == "false"


def test_single_node_replication_factors():
    config = kafka_config()
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "share.coordinator.state.topic.replication.factor",
    ):
        assert config[key] == "1"


@pytest.mark.parametrize("password", ['has"quote', "back\\slash"])
def test_jaas_refuses_passwords_that_would_break_it(password):
    with pytest.raises(ServiceError, match="no quotes, backslashes"):
        jaas_config("ok", [Account("pipeline", password)])


def test_cluster_ids_have_kafkas_format():
    cluster_id = new_cluster_id()
    assert len(cluster_id) == 22 and "=" not in cluster_id
    assert cluster_id != new_cluster_id()


def test_cluster_ids_never_look_like_an_option():
    # One id in 64 would start with "-" if drawn once, so 2,000 draws find it.
    assert not any(new_cluster_id().startswith("-") for _ in range(2000))


def test_elasticsearch_config_is_secure_and_local(tmp_path):
    text = elasticsearch_yml(
        host="127.0.0.1", http_port=9200, transport_port=9300, data=tmp_path / "d", logs=tmp_path / "l"
    )
    assert "xpack.security.enabled: true" in text
    assert "network.host: 127.0.0.1" in text
    assert "discovery.type: single-node" in text


def test_weed_options_bind_every_port_to_loopback(tmp_path):
    lines = weed_options(
        host="127.0.0.1",
        s3_port=8333,
        internal_ports=(9333, 9340, 8888, 23646),
        data=tmp_path,
        s3_config=tmp_path / "s3.json",
        admin_password="pw",
    ).splitlines()
    options = dict(line.split("=", 1) for line in lines)
    assert options["ip.bind"] == "127.0.0.1" and options["ip"] == "127.0.0.1"
    assert options["s3.config"] == str(tmp_path / "s3.json")
    assert options["s3.port.iceberg"] == options["s3.port.lance"] == "0"
    assert options["master.telemetry"] == "false"


def test_s3_identities_hold_exactly_the_configured_key():
    parsed = json.loads(json.dumps(s3_identities(Account("AKIAEXAMPLE", "s3cret"), None, "bucket")))
    (identity,) = parsed["identities"]
    assert identity["credentials"] == [{"accessKey": "AKIAEXAMPLE", "secretKey": "s3cret"}]


def test_the_dashboard_s3_identity_only_reads_the_images():
    parsed = s3_identities(Account("AKIAPIPELINE", "a"), Account("AKIADASHBOARD", "b"), "pics")
    pipeline, dashboard = parsed["identities"]
    assert dashboard["credentials"] == [{"accessKey": "AKIADASHBOARD", "secretKey": "b"}]
    assert dashboard["actions"] == ["Read:pics/images/*"]
    with pytest.raises(ServiceError, match="must differ"):
        s3_identities(Account("AKIASAME", "a"), Account("AKIASAME", "b"), "pics")


def test_the_archivers_s3_identity_may_only_write_under_the_archive_prefix():
    archiver = (Account("AKIAARCHIVER", "arch"), "detections/")
    parsed = json.loads(json.dumps(s3_identities(Account("AKIAEXAMPLE", "s3cret"), None, "pics", archiver)))
    pipeline, identity = parsed["identities"]
    assert pipeline["credentials"][0]["accessKey"] == "AKIAEXAMPLE"
    assert identity["credentials"] == [{"accessKey": "AKIAARCHIVER", "secretKey": "arch"}]
    assert identity["actions"] == ["Write:*/detections/*"]
    with pytest.raises(ServiceError, match="must differ"):
        s3_identities(Account("AKIASAME", "a"), None, "pics", (Account("AKIASAME", "b"), "detections/"))


def test_security_toml_signs_filer_and_volume_requests():
    text = security_toml("k3y")
    for section in ("[jwt.signing]", "[jwt.signing.read]", "[jwt.filer_signing]", "[jwt.filer_signing.read]"):
        assert section in text
    assert text.count('key = "k3y"') == 4


@pytest.fixture
def open_dir():
    """A directory whose parents anyone may traverse (pytest's tmp_path is private)."""
    path = Path(tempfile.mkdtemp(dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_traversable_by_others(open_dir):
    inner = open_dir / "a" / "b"
    inner.mkdir(parents=True)
    assert traversable_by_others(inner)
    os.chmod(open_dir / "a", 0o700)
    assert not traversable_by_others(inner)
    os.chmod(open_dir / "a", 0o700 | stat.S_IXOTH)
    assert traversable_by_others(inner)


def test_root_keeps_state_outside_a_checkout_other_users_cannot_reach(tmp_path):
    from pipeline_common.local_state import SHARED_STATE_ROOT, default_local_dir

    private = tmp_path / "home"
    checkout = private / "checkout"
    checkout.mkdir(parents=True)
    private.chmod(0o700)
    try:
        assert default_local_dir(checkout, as_root=True).parent == SHARED_STATE_ROOT
        # the same checkout always maps to the same folder; another one to another
        assert default_local_dir(checkout, as_root=True) == default_local_dir(checkout, as_root=True)
        assert default_local_dir(private, as_root=True) != default_local_dir(checkout, as_root=True)
        # a user other than root runs Elasticsearch as itself: .local stays in the checkout
        assert default_local_dir(checkout, as_root=False) == checkout / ".local"
        reachable = Path("/usr/share")  # 0755 all the way up
        assert default_local_dir(reachable, as_root=True) == reachable / ".local"
    finally:
        private.chmod(0o755)
