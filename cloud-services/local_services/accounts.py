"""Who may do what, in one definition: each stage's Kafka ACLs and Elasticsearch role, and
the edge's basic-auth files, built from the stages' accounts in `.env`.

`up` applies it to the local services; `python -m local_services accounts` applies the
same to a production stack once (cloud-services/README.md). Least privilege throughout:
- Kafka (StandardAuthorizer, nothing allowed without an ACL): the producer writes the
  images topic (and may create it); the detector reads it in its own group and writes the
  dead-letter and detections topics; the live indexer reads the detections in its group
  and writes their dead-letter topic; the archiver reads the detections in its own group.
  Only the broker's own `admin` is a super user.
- Elasticsearch (file realm): the dashboard's API reads the count indices; each indexer
  writes only its own indices. Only `elastic` administers.
- Traefik: every Elasticsearch account is also in the edge's Elasticsearch user file, the
  dashboard has viewers, Traefik's API and the HDFS UI operators."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import bcrypt
import yaml

from pipeline_common.settings import KAFKA_ADMIN_USER

from .errors import ServiceError

if TYPE_CHECKING:  # imported where used: the accounts' files need no Kafka client
    from confluent_kafka.admin import AdminClient

log = logging.getLogger(__name__)

ADMIN_USER = KAFKA_ADMIN_USER  # the broker's own Kafka account, the only super user
# Traefik checks the password on every request and caches nothing; the passwords here are
# 192 random bits (make up) or the operator's own, so a low bcrypt cost keeps each
# request's check near 2 ms (cost 10 would add ~60 ms to every Elasticsearch query).
BCRYPT_COST = 5


@dataclass(frozen=True)
class Account:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Names:
    """The topics, consumer groups and indices the grants are about."""

    images_topic: str = "images"
    dead_letter_topic: str = "images-dead-letter"
    detections_topic: str = "detections"
    detections_dead_letter_topic: str = "detections-dead-letter"
    consumer_group: str = "object-detector"
    live_group: str = "live-indexer"
    archiver_group: str = "detection-archiver"
    batch_index: str = "hadoop-object-counts-v1"
    live_index_prefix: str = "object-counts-live-"
    runs_index: str = "pipeline-batch-runs"  # the scheduler's records of batch runs
    lock_index: str = "pipeline-batch-locks"  # the scheduler's lease
    alert_rules_index: str = "pipeline-alert-rules"  # operators write, the live indexer and scheduler read
    alerts_index: str = "pipeline-alerts"  # the live indexer and the scheduler write, the API reads

    @property
    def batch_indices(self) -> str:
        # the index and its family (a versioned successor, a test copy): one pattern
        return f"{self.batch_index}*"

    @property
    def live_indices(self) -> str:
        return f"{self.live_index_prefix}*"

    @property
    def scheduler_indices(self) -> list[str]:
        return [f"{self.runs_index}*", f"{self.lock_index}*"]


# --- Kafka ----------------------------------------------------------------------------

KAFKA_STAGES = ("producer", "consumer", "live_indexer", "archiver")


def kafka_permissions(stage: str, names: Names) -> list[tuple[str, str, str]]:
    """(resource type, literal name, operation) a stage's Kafka account is allowed."""
    if stage == "producer":
        return [("TOPIC", names.images_topic, op) for op in ("WRITE", "DESCRIBE", "CREATE")]
    if stage == "consumer":
        return [
            ("TOPIC", names.images_topic, "READ"),
            ("TOPIC", names.images_topic, "DESCRIBE"),
            ("GROUP", names.consumer_group, "READ"),
            *[
                ("TOPIC", topic, op)
                for topic in (names.dead_letter_topic, names.detections_topic)
                for op in ("WRITE", "DESCRIBE")
            ],
        ]
    if stage == "live_indexer":
        return [
            ("TOPIC", names.detections_topic, "READ"),
            ("TOPIC", names.detections_topic, "DESCRIBE"),
            ("GROUP", names.live_group, "READ"),
            ("TOPIC", names.detections_dead_letter_topic, "WRITE"),
            ("TOPIC", names.detections_dead_letter_topic, "DESCRIBE"),
        ]
    if stage == "archiver":
        return [
            ("TOPIC", names.detections_topic, "READ"),
            ("TOPIC", names.detections_topic, "DESCRIBE"),
            ("GROUP", names.archiver_group, "READ"),
        ]
    raise ValueError(f"unknown Kafka stage {stage!r}; expected one of {', '.join(KAFKA_STAGES)}")


def acl_bindings(username: str, permissions: Iterable[tuple[str, str, str]]) -> list:
    """confluent-kafka AclBindings allowing `username` exactly `permissions` (literal names,
    from any host)."""
    from confluent_kafka.admin import AclBinding, AclOperation, AclPermissionType, ResourcePatternType, ResourceType

    return [
        AclBinding(
            ResourceType[resource],
            name,
            ResourcePatternType.LITERAL,
            f"User:{username}",
            "*",
            AclOperation[operation],
            AclPermissionType.ALLOW,
        )
        for resource, name, operation in permissions
    ]


def stage_acl_bindings(accounts: dict[str, Account], names: Names) -> list:
    bindings = []
    for stage, account in accounts.items():
        bindings += acl_bindings(account.username, kafka_permissions(stage, names))
    return bindings


def apply_kafka(
    admin: AdminClient, accounts: dict[str, Account], names: Names, topics: dict[str, int], timeout: float = 30.0
) -> int:
    """Create the pipeline's `topics` (name -> partitions) unless they exist, then the stages'
    ACLs (creating an existing ACL changes nothing); returns the number of ACLs."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic

    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [
        NewTopic(name, num_partitions=n, replication_factor=1) for name, n in topics.items() if name not in existing
    ]
    for name, future in admin.create_topics(missing, request_timeout=timeout).items() if missing else []:
        try:
            future.result(timeout=timeout)
            log.info("created topic %s", name)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    bindings = stage_acl_bindings(accounts, names)
    for future in admin.create_acls(bindings, request_timeout=timeout).values():
        future.result(timeout=timeout)
    return len(bindings)


def jaas_config(admin_password: str, accounts: Iterable[Account]) -> str:
    """The broker's PlainLoginModule entry: its own login (admin) and every account it accepts."""
    users = {ADMIN_USER: admin_password, **{a.username: a.password for a in accounts}}
    for name, secret in users.items():
        if any(c in secret + name for c in '"\\') or not name or any(c.isspace() for c in name):
            raise ServiceError(f"the Kafka account {name!r}: no quotes, backslashes or spaces in names and passwords")
    known = " ".join(f'user_{name}="{secret}"' for name, secret in users.items())
    return (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="{ADMIN_USER}" password="{admin_password}" {known};'
    )


# --- Elasticsearch --------------------------------------------------------------------

ES_STAGES = ("api", "indexer", "live_indexer", "scheduler")


def es_roles(names: Names) -> dict[str, dict]:
    """Role name -> body of PUT /_security/role/<name>."""
    return {
        # the dashboard's API: search the counts and the run records, look at mappings
        "pipeline_api": {
            "cluster": [],
            "indices": [
                {
                    "names": [
                        names.batch_indices,
                        names.live_indices,
                        f"{names.runs_index}*",
                        f"{names.alerts_index}*",
                    ],
                    "privileges": ["read", "view_index_metadata"],
                }
            ],
        },
        # the batch indexer: its own index (create, map, write, delete stale buckets, refresh)
        "pipeline_indexer": {
            "cluster": [],
            "indices": [
                {
                    "names": [names.batch_indices],
                    "privileges": ["create_index", "view_index_metadata", "read", "write", "maintenance"],
                }
            ],
        },
        # the live indexer: its daily indices (and dropping old ones), their index template;
        # adding a new field to an older day's mapping (one action, not all of `manage`)
        "pipeline_live_indexer": {
            "cluster": ["manage_index_templates"],
            "indices": [
                {
                    "names": [names.live_indices],
                    "privileges": [
                        "create_index",
                        "view_index_metadata",
                        "read",
                        "write",
                        "maintenance",
                        "delete_index",
                        "indices:admin/mapping/put",
                    ],
                },
                # alerts: reads the rules, records each alert fired (and its webhook's outcome)
                {"names": [f"{names.alert_rules_index}*"], "privileges": ["read"]},
                {
                    "names": [f"{names.alerts_index}*"],
                    "privileges": ["create_index", "view_index_metadata", "read", "write"],
                },
            ],
        },
        # the batch scheduler: its lease and its run records (the steps it starts use their own;
        # a new field in an older runs index's mapping); after each run it checks the alert
        # rules on the counts (read) and records each alert fired, as the live indexer does
        "pipeline_scheduler": {
            "cluster": [],
            "indices": [
                {
                    "names": names.scheduler_indices,
                    "privileges": [
                        "create_index",
                        "view_index_metadata",
                        "read",
                        "write",
                        "indices:admin/mapping/put",
                    ],
                },
                {"names": [names.batch_indices, f"{names.alert_rules_index}*"], "privileges": ["read"]},
                {
                    "names": [f"{names.alerts_index}*"],
                    "privileges": ["create_index", "view_index_metadata", "read", "write"],
                },
            ],
        },
    }


ROLE_OF_STAGE = {
    "api": "pipeline_api",
    "indexer": "pipeline_indexer",
    "live_indexer": "pipeline_live_indexer",
    "scheduler": "pipeline_scheduler",
}
ES_HASH_COST = 10  # Elasticsearch caches a verified password, so its default cost costs nothing per request


def es_file_realm(accounts: dict[str, Account], names: Names) -> dict[str, str]:
    """The files of Elasticsearch's file realm (roles.yml, users, users_roles in its config
    folder), which it reloads within seconds when they change.

    Files rather than the security REST API: the local `integ-test-zip` node cannot create
    the security index (its mapping needs the analysis-common module, which that
    distribution lacks), and files work the same in production (docker-compose.yml mounts
    them), so both run the same definition. `elastic` stays the built-in superuser."""
    for stage, account in accounts.items():
        if account.username == "elastic" or ":" in account.username or not account.username:
            raise ServiceError(f"the {stage} stage needs an Elasticsearch account of its own, not {account.username!r}")
    roles = yaml.safe_dump(es_roles(names), sort_keys=False)
    users = "".join(
        f"{a.username}:{bcrypt.hashpw(a.password.encode(), bcrypt.gensalt(ES_HASH_COST, prefix=b'2a')).decode()}\n"
        for a in accounts.values()
    )
    members: dict[str, list[str]] = {}
    for stage, account in accounts.items():
        members.setdefault(ROLE_OF_STAGE[stage], []).append(account.username)
    users_roles = "".join(f"{role}:{','.join(names)}\n" for role, names in members.items())
    return {
        "roles.yml": "# Generated from local_services/accounts.py: the stages' roles.\n" + roles,
        "users": users,
        "users_roles": users_roles,
    }


def write_es_file_realm(directory: Path, accounts: dict[str, Account], names: Names) -> bool:
    """Write the file realm into `directory` unless it already holds these accounts (bcrypt
    salts differ each time, so the passwords are checked); True when it changed."""
    files = es_file_realm(accounts, names)
    if (
        (directory / "users").is_file()
        and (directory / "users_roles").is_file()
        and (directory / "roles.yml").is_file()
        and (directory / "roles.yml").read_text() == files["roles.yml"]
        and (directory / "users_roles").read_text() == files["users_roles"]
        and _current(directory / "users", accounts.values())
    ):
        return False
    for name, text in files.items():
        _write_atomically(directory / name, text)
    return True


# --- S3 --------------------------------------------------------------------------------

# What the dashboard reads: the originals, to show them and make thumbnails (kept in its
# own memory, so it writes nothing).
DASHBOARD_S3_PREFIXES = ("images/",)


def s3_identities(
    admin: Account, dashboard: Account | None, bucket: str, archiver: tuple[Account, str] | None = None
) -> dict:
    """SeaweedFS's identities file: the pipeline's account with full rights, the
    dashboard's, which may only read objects under DASHBOARD_S3_PREFIXES of the bucket
    (no listing, no writing, nothing else), and given (account, archive prefix) the
    detection archiver's, which may only write objects under the archive prefix (of any
    bucket: tests and benchmarks run the archiver on buckets of their own; SeaweedFS
    matches `*` in an action's resource)."""
    identities = [
        {
            "name": "pipeline",
            "credentials": [{"accessKey": admin.username, "secretKey": admin.password}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
    ]
    if dashboard is not None:
        if dashboard.username == admin.username:
            raise ServiceError(
                "FRONTEND_S3_ACCESS_KEY must differ from S3_ACCESS_KEY: the dashboard reads with an account of its own"
            )
        identities.append(
            {
                "name": "dashboard",
                "credentials": [{"accessKey": dashboard.username, "secretKey": dashboard.password}],
                "actions": [f"Read:{bucket}/{prefix}*" for prefix in DASHBOARD_S3_PREFIXES],
            }
        )
    if archiver is not None:
        account, prefix = archiver
        if account.username == admin.username:
            raise ServiceError(
                "ARCHIVER_S3_ACCESS_KEY must differ from S3_ACCESS_KEY: the archiver writes with an account of its own"
            )
        identities.append(
            {
                "name": "detection-archiver",
                "credentials": [{"accessKey": account.username, "secretKey": account.password}],
                "actions": [f"Write:*/{prefix}*"],
            }
        )
    return {"identities": identities}


# --- Traefik's basic-auth files ---------------------------------------------------------


def htpasswd_line(account: Account, cost: int = BCRYPT_COST) -> str:
    if ":" in account.username or not account.username:
        raise ServiceError(f"basic-auth user name {account.username!r}: not empty, no ':'")
    hashed = bcrypt.hashpw(account.password.encode(), bcrypt.gensalt(rounds=cost)).decode()
    return f"{account.username}:{hashed}"


def _current(path: Path, accounts: Iterable[Account]) -> bool:
    """Whether `path` already holds exactly these accounts with these passwords (so a
    restart keeps the file and its salts)."""
    try:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return False
    hashes = dict(line.split(":", 1) for line in lines if ":" in line)
    wanted = {a.username: a.password for a in accounts}
    return set(hashes) == set(wanted) and all(
        bcrypt.checkpw(wanted[user].encode(), hashed.encode()) for user, hashed in hashes.items()
    )


def _write_atomically(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.chmod(mode)
    partial.replace(path)


def write_htpasswd(path: Path, accounts: Iterable[Account]) -> bool:
    """Write a Traefik users file (bcrypt); True when it changed."""
    accounts = list(accounts)
    if _current(path, accounts):
        return False
    _write_atomically(path, "".join(htpasswd_line(a) + "\n" for a in accounts))
    return True


@dataclass(frozen=True)
class EdgeUsers:
    """Who may pass each basic-auth middleware of the shared dynamic configuration."""

    elasticsearch: tuple[Account, ...]  # every Elasticsearch account, `elastic` included
    dashboard: tuple[Account, ...]
    ops: tuple[Account, ...]

    def write(self, directory: Path) -> list[Path]:
        """The three users files of traefik/dynamic/middlewares.yml; the ones that changed."""
        changed = []
        for name, accounts in (("elasticsearch", self.elasticsearch), ("dashboard", self.dashboard), ("ops", self.ops)):
            path = directory / f"{name}.htpasswd"
            if write_htpasswd(path, accounts):
                changed.append(path)
        return changed
