"""The compose files, loaded by the Compose Spec's own loader (compose-go, what Docker
Compose v2 runs), without a Docker engine: cloud-services/compose-check."""

from __future__ import annotations

import subprocess

import pytest

from pipeline_common.environment import PROJECT_ROOT, read_environment

COMPOSE_CHECK = PROJECT_ROOT / "cloud-services" / "compose-check"
SAMPLE_ENV = COMPOSE_CHECK / "sample.env"
PROD = PROJECT_ROOT / "cloud-services" / "docker-compose.yml"
DEV = PROJECT_ROOT / "docker-compose.dev.yml"


@pytest.fixture(scope="session")
def compose_check() -> str:
    """The checker, built once (scripts/go_tool.sh) and cached outside the repository; it
    needs no service."""
    from local_services.paths import Paths
    from local_services.settings import GO_BUILD
    from local_services.traefik import go_tool

    env = read_environment()
    return str(
        go_tool(
            "compose-check", Paths.from_env(env).cache_dir, tuple((name, env[name]) for name in GO_BUILD if name in env)
        )
    )


def check(checker: str, compose_file, env_file=SAMPLE_ENV) -> subprocess.CompletedProcess:
    return subprocess.run(
        [checker, "-f", str(compose_file), "--env-file", str(env_file)], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("compose_file", [PROD, DEV], ids=["production", "dev"])
def test_the_compose_files_load(compose_check, compose_file):
    result = check(compose_check, compose_file)
    assert result.returncode == 0, result.stderr
    assert "loads" in result.stdout


@pytest.mark.parametrize(
    "break_it, complaint",
    [
        (
            lambda text: text.replace("condition: service_completed_successfully", "condition: service_done"),
            "must be one of",
        ),
        (
            lambda text: text.replace(
                "namenode: {condition: service_started}", "name-node: {condition: service_started}"
            ),
            "depends on undefined service",
        ),
        (
            lambda text: text.replace(
                "    networks: [proxy]\n\n  kafka:", "    networks: [proxy, outside]\n\n  kafka:"
            ),
            "undefined network",
        ),
    ],
    ids=["bad enum value", "dangling depends_on", "undefined network"],
)
def test_a_broken_copy_is_refused(compose_check, tmp_path, break_it, complaint):
    broken_text = break_it(PROD.read_text())
    assert broken_text != PROD.read_text()  # the breakage really happened
    broken = PROD.parent / f".broken-{tmp_path.name}.yml"  # beside the original: same relative paths
    broken.write_text(broken_text)
    try:
        result = check(compose_check, broken)
    finally:
        broken.unlink()
    assert result.returncode == 1
    assert complaint in result.stderr


def test_a_missing_required_variable_is_named(compose_check, tmp_path):
    env_file = tmp_path / "incomplete.env"
    env_file.write_text(
        "".join(
            line + "\n" for line in SAMPLE_ENV.read_text().splitlines() if not line.startswith("FRONTEND_ES_PASSWORD=")
        )
    )
    result = check(compose_check, PROD, env_file)
    assert result.returncode == 1
    assert "FRONTEND_ES_PASSWORD" in result.stderr
