"""`local-services up|down|status|clean-data|accounts` (also `python -m local_services`)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from pipeline_common.environment import DEFAULT_DOTENV, PROJECT_ROOT, SettingsError, read_environment
from pipeline_common.logs import configure_logging

from . import hadoop_cluster, provision, stack
from .envfile import LOCAL_CA, ensure_env_file
from .errors import ServiceError
from .paths import Paths
from .service import Status
from .settings import AccessSettings, LocalSettings

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_NOT_READY = 0, 1, 3


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="local-services",
        description="Run the pipeline's real services (Kafka, Elasticsearch, an S3 server, "
        "Traefik in front of them and a local Hadoop) as processes on 127.0.0.1, without Docker. "
        "Credentials come from .env, which the first `up` writes with random secrets.",
        epilog="Exit codes: 0 success, 1 failure (message on stderr), 2 bad usage, "
        "3 `status` found a service not ready.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = dict(
        nargs="*",
        metavar="SERVICE",
        help=f"only these ({', '.join(stack.SERVICE_NAMES)}, {stack.CLUSTER} for the four "
        "Hadoop daemons, and hadoop, the local-mode client, for `up`); default: "
        f"{', '.join(stack.NAMES)} and the local-mode Hadoop client, plus {stack.CLUSTER} "
        "when PIPELINE_HADOOP_CLUSTER=true (`down` stops it in any case)",
    )
    up = commands.add_parser("up", help="start every service (reuses those already running) and wait until ready")
    up.add_argument("services", **names)
    down = commands.add_parser("down", help="stop the services started by `up`")
    down.add_argument("services", **names)
    down.add_argument("--wipe", action="store_true", help="also delete their data (and logs, for all)")
    commands.add_parser("status", help="table of service, pid, port, readiness and memory")
    commands.add_parser(
        "clean-data",
        help="stop the services and delete their data and logs (same as `down --wipe`; .env and downloads are kept)",
    )
    accounts = commands.add_parser(
        "accounts",
        help="give a production stack the stages' accounts and rights, as `up` does locally (cloud-services/README.md)",
    )
    what = accounts.add_subparsers(dest="what", required=True, metavar="WHAT")
    files = what.add_parser(
        "files",
        help="before `docker compose up`: write Traefik's users files, "
        "Elasticsearch's file realm and Kafka's JAAS file under DIRECTORY",
    )
    files.add_argument("directory", type=Path, metavar="DIRECTORY", help="the compose folder (cloud-services)")
    what.add_parser(
        "kafka",
        help="once the stack runs: create the pipeline's topics and each stage's ACLs "
        "on KAFKA_BOOTSTRAP_SERVERS, as the broker's admin account",
    )
    args = parser.parse_args(argv)
    known = {*stack.SERVICE_NAMES, stack.CLUSTER}
    if args.command == "up":
        known.add("hadoop")
    unknown = sorted(set(getattr(args, "services", [])) - known)
    if unknown:
        parser.error(f"unknown service(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))}")
    return args


def format_table(rows: list[Status], hadoop: str) -> str:
    lines = [f"{'service':<22}{'pid':>8}{'port':>7}  {'ready':<6}{'RSS MB':>8}"]
    for row in rows:
        lines.append(
            f"{row.name:<22}{row.pid or '-':>8}{row.port:>7}  {'yes' if row.ready else 'no':<6}"
            f"{f'{row.rss_mb:.0f}' if row.rss_mb is not None else '-':>8}"
        )
    lines.append(f"{'hadoop':<22}{'-':>8}{'-':>7}  {hadoop}")
    total = sum(r.rss_mb or 0 for r in rows)
    lines.append(f"{'total':<22}{'':>8}{'':>7}  {'':<6}{total:>8.0f}")
    return "\n".join(lines)


def accounts(args: argparse.Namespace, env: dict[str, str]) -> int:
    access = AccessSettings.from_env(env)
    if args.what == "files":
        for path in provision.write_files(args.directory, access, access.kafka_admin.password.get_secret_value()):
            print(f"wrote {path}")
        return EXIT_OK
    admin = provision.admin_kafka_config(env)
    count = provision.apply_kafka_acls(access, admin)
    print(
        f"{count} ACLs on {admin['bootstrap.servers']} for "
        f"{', '.join(a.username for _, a in access.kafka_accounts) or 'nobody (no stage account in .env)'}"
    )
    return EXIT_OK


def local_settings(env: dict[str, str], command: str) -> LocalSettings:
    """`up` needs every stage's account (it gives each its rights); stopping needs none, and
    `status` uses the operators' account when .env has it."""
    if command == "up":
        return LocalSettings.from_env(env)
    if command == "status":
        try:
            return LocalSettings.from_env(env)
        except SettingsError:
            pass
    return LocalSettings.from_env(env, without={"access"})


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.verbose)
    try:
        if args.command == "up":
            ca = Paths.from_env(read_environment()).ca_cert
            ensure_env_file(PROJECT_ROOT / ".env.example", DEFAULT_DOTENV, values={LOCAL_CA: str(ca)})
        env = read_environment()
        if args.command == "accounts":
            return accounts(args, env)
        settings = local_settings(env, args.command)
        if args.command == "up":
            done = stack.up(settings, env, args.services)
            for name, what in done:
                print(f"{name}: {what}")
            if any(name in hadoop_cluster.NAMES for name, _ in done):
                print(hadoop_cluster.summary(settings))
            print(f"data and logs under {settings.paths.local_dir}; `make status` to check")
            return EXIT_OK
        if args.command in ("down", "clean-data"):
            wipe = args.command == "clean-data" or args.wipe
            names = getattr(args, "services", [])
            for name, pid in stack.down(settings, wipe=wipe, names=names):
                print(f"{name}: {'stopped pid %d' % pid if pid else 'was not running'}")
            return EXIT_OK
        rows = stack.status(settings)
        hadoop = "installed" if stack.hadoop_installed(settings) else "not installed"
        print(format_table(rows, hadoop))
        return EXIT_OK if all(r.ready for r in rows) else EXIT_NOT_READY
    except SettingsError as error:
        hint = "" if DEFAULT_DOTENV.exists() else f" ({DEFAULT_DOTENV} does not exist: `up` writes it)"
        log.error("%s%s", error, hint)
        return EXIT_FAILED
    except ServiceError as error:
        log.error("%s", error)
        return EXIT_FAILED
