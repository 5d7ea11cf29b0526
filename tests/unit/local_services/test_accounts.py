"""Who may do what: each stage's Kafka ACLs and Elasticsearch role, Traefik's users files."""

from __future__ import annotations

import bcrypt
import pytest
import yaml

from local_services.accounts import (
    Account,
    EdgeUsers,
    Names,
    acl_bindings,
    es_file_realm,
    es_roles,
    kafka_permissions,
    stage_acl_bindings,
    write_es_file_realm,
    write_htpasswd,
)
from local_services.errors import ServiceError
from local_services.provision import KAFKA_NAME_VARIABLES, kafka_names, run_names

NAMES = Names()


def allowed(stage: str) -> set[tuple[str, str, str]]:
    return set(kafka_permissions(stage, NAMES))


def test_the_producer_only_writes_and_creates_the_images_topic():
    assert allowed("producer") == {
        ("TOPIC", "images", "WRITE"),
        ("TOPIC", "images", "DESCRIBE"),
        ("TOPIC", "images", "CREATE"),
    }


def test_the_detector_reads_images_in_its_group_and_writes_its_outputs():
    rights = allowed("consumer")
    assert ("TOPIC", "images", "READ") in rights and ("GROUP", "object-detector", "READ") in rights
    assert {("TOPIC", "images-dead-letter", "WRITE"), ("TOPIC", "detections", "WRITE")} <= rights
    assert ("TOPIC", "images", "WRITE") not in rights
    assert not any(op == "CREATE" for _, _, op in rights)


def test_the_live_indexer_reads_detections_in_its_own_group():
    rights = allowed("live_indexer")
    assert {
        ("TOPIC", "detections", "READ"),
        ("GROUP", "live-indexer", "READ"),
        ("TOPIC", "detections-dead-letter", "WRITE"),
    } <= rights
    assert not any(name.startswith("images") for _, name, _ in rights)


def test_the_archiver_only_reads_detections_in_its_own_group():
    assert allowed("archiver") == {
        ("TOPIC", "detections", "READ"),
        ("TOPIC", "detections", "DESCRIBE"),
        ("GROUP", "detection-archiver", "READ"),
    }


def test_no_stage_may_touch_the_cluster_or_another_group():
    for stage in ("producer", "consumer", "live_indexer", "archiver"):
        rights = allowed(stage)
        assert not any(kind == "CLUSTER" for kind, _, _ in rights)
        groups = {name for kind, name, _ in rights if kind == "GROUP"}
        assert len(groups) <= 1


def test_permissions_follow_the_configured_names():
    names = Names(images_topic="cams", consumer_group="g1")
    assert ("GROUP", "g1", "READ") in kafka_permissions("consumer", names)
    assert ("TOPIC", "cams", "WRITE") in kafka_permissions("producer", names)


def test_a_run_on_names_of_its_own_is_granted_every_topic_and_group_and_writes_in_the_index_families():
    names = run_names("bench", "1a2b3c4d", NAMES.batch_index, NAMES.live_index_prefix)
    granted = kafka_names(names)

    assert set(granted) == set(KAFKA_NAME_VARIABLES.values())  # grant_on covers each of them
    assert len(set(names.values())) == len(names) and all("bench-1a2b3c4d" in name for name in names.values())
    assert names["ES_INDEX"].startswith(NAMES.batch_index)  # in hadoop-object-counts-v1*
    assert names["ES_LIVE_INDEX_PREFIX"].startswith(NAMES.live_index_prefix)


def test_unknown_stage_is_refused():
    with pytest.raises(ValueError, match="unknown Kafka stage"):
        kafka_permissions("hadoop", NAMES)


def test_acl_bindings_are_literal_allows_for_the_account():
    from confluent_kafka.admin import AclOperation, AclPermissionType, ResourcePatternType, ResourceType

    (binding,) = acl_bindings("producer", [("TOPIC", "images", "WRITE")])
    assert binding.restype == ResourceType.TOPIC and binding.name == "images"
    assert binding.resource_pattern_type == ResourcePatternType.LITERAL
    assert binding.principal == "User:producer" and binding.host == "*"
    assert binding.operation == AclOperation.WRITE and binding.permission_type == AclPermissionType.ALLOW
    accounts = {"producer": Account("p", "x"), "consumer": Account("c", "y")}
    assert len(stage_acl_bindings(accounts, NAMES)) == len(allowed("producer")) + len(allowed("consumer"))


def test_the_api_role_only_reads_and_each_indexer_writes_its_own_indices():
    roles = es_roles(NAMES)
    api = roles["pipeline_api"]
    assert api["cluster"] == []
    assert {p for grant in api["indices"] for p in grant["privileges"]} == {"read", "view_index_metadata"}
    assert roles["pipeline_indexer"]["indices"][0]["names"] == ["hadoop-object-counts-v1*"]
    assert roles["pipeline_live_indexer"]["indices"][0]["names"] == ["object-counts-live-*"]
    for role in roles.values():
        assert not {"all", "manage", "manage_security"} & set(role["cluster"])


def test_file_realm_holds_each_stage_with_its_role():
    accounts = {"api": Account("dashboard-api", "pw1"), "indexer": Account("batch-indexer", "pw2")}
    files = es_file_realm(accounts, NAMES)
    assert set(yaml.safe_load(files["roles.yml"])) == set(es_roles(NAMES))
    users = dict(line.split(":", 1) for line in files["users"].splitlines())
    assert users["dashboard-api"].startswith("$2a$")  # the prefix Elasticsearch's hasher knows
    assert bcrypt.checkpw(b"pw2", users["batch-indexer"].encode())
    assert files["users_roles"].splitlines() == ["pipeline_api:dashboard-api", "pipeline_indexer:batch-indexer"]


def test_a_stage_may_not_use_the_superuser():
    with pytest.raises(ServiceError, match="of its own"):
        es_file_realm({"api": Account("elastic", "x")}, NAMES)


def test_file_realm_is_rewritten_only_when_an_account_changes(tmp_path):
    accounts = {"api": Account("dashboard-api", "pw1")}
    assert write_es_file_realm(tmp_path, accounts, NAMES) is True
    assert write_es_file_realm(tmp_path, accounts, NAMES) is False
    assert write_es_file_realm(tmp_path, {"api": Account("dashboard-api", "new")}, NAMES) is True
    assert (tmp_path / "users").stat().st_mode & 0o777 == 0o600


def test_htpasswd_is_bcrypt_private_and_kept_while_unchanged(tmp_path):
    path = tmp_path / "ops.htpasswd"
    assert write_htpasswd(path, [Account("ops", "s3cret")]) is True
    user, hashed = path.read_text().strip().split(":", 1)
    assert user == "ops" and bcrypt.checkpw(b"s3cret", hashed.encode())
    assert path.stat().st_mode & 0o777 == 0o600
    before = path.read_text()
    assert write_htpasswd(path, [Account("ops", "s3cret")]) is False and path.read_text() == before
    assert write_htpasswd(path, [Account("ops", "other")]) is True


def test_edge_users_files_are_the_ones_the_middlewares_name(tmp_path):
    users = EdgeUsers(
        elasticsearch=(Account("elastic", "e"),), dashboard=(Account("viewer", "v"),), ops=(Account("ops", "o"),)
    )
    written = users.write(tmp_path)
    assert sorted(p.name for p in written) == ["dashboard.htpasswd", "elasticsearch.htpasswd", "ops.htpasswd"]
    middlewares = (
        pytest.importorskip("pipeline_common.environment").PROJECT_ROOT
        / "cloud-services/traefik/dynamic/middlewares.yml"
    ).read_text()
    for path in written:
        assert f"/{path.name}'" in middlewares


def test_the_scheduler_reads_counts_and_rules_and_writes_only_its_records_and_alerts():
    grants = {
        name: set(grant["privileges"])
        for grant in es_roles(NAMES)["pipeline_scheduler"]["indices"]
        for name in grant["names"]
    }
    assert grants["hadoop-object-counts-v1*"] == {"read"}  # the indexer writes the counts
    assert grants["pipeline-alert-rules*"] == {"read"}  # operators write the rules
    assert "write" in grants["pipeline-alerts*"] and "delete_index" not in grants["pipeline-alerts*"]
    writable = {name for name, privileges in grants.items() if "write" in privileges}
    assert writable == {"pipeline-batch-runs*", "pipeline-batch-locks*", "pipeline-alerts*"}
