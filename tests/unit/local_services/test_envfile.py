"""`.env` generation: random secrets once, never overwriting what exists."""

from __future__ import annotations

import re

from local_services.envfile import ensure_env_file, fill_placeholders, generate_secret

EXAMPLE = """\
# comment mentioning <generated> stays as it is
S3_ACCESS_KEY=<generated>
S3_SECRET_KEY=<generated>
S3_BUCKET=image-pipeline
KAFKA_PASSWORD=<generated>
ES_PASSWORD=<generated>
"""


def parse(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_every_placeholder_gets_its_own_value_and_the_rest_is_kept():
    values = parse(fill_placeholders(EXAMPLE))
    assert "<generated>" not in "".join(values.values())
    secrets = [values[k] for k in ("S3_SECRET_KEY", "KAFKA_PASSWORD", "ES_PASSWORD")]
    assert len(set(secrets)) == 3
    assert all(len(s) >= 24 for s in secrets)
    assert values["S3_BUCKET"] == "image-pipeline"
    assert fill_placeholders(EXAMPLE).startswith("# comment mentioning <generated> stays")


def test_access_key_looks_like_an_access_key_id():
    assert re.fullmatch(r"AKIA[A-Z0-9]{16}", generate_secret("S3_ACCESS_KEY"))


def test_secrets_differ_between_runs():
    assert generate_secret("ES_PASSWORD") != generate_secret("ES_PASSWORD")


def test_secrets_need_no_quoting():
    for _ in range(50):
        assert re.fullmatch(r"[A-Za-z0-9_-]+", generate_secret("KAFKA_PASSWORD"))


def test_env_file_is_written_once_and_private(tmp_path):
    example, target = tmp_path / ".env.example", tmp_path / ".env"
    example.write_text(EXAMPLE)
    assert ensure_env_file(example, target) is True
    first = target.read_text()
    assert target.stat().st_mode & 0o777 == 0o600
    assert ensure_env_file(example, target) is False
    assert target.read_text() == first


def test_existing_values_are_kept_and_only_missing_variables_added(tmp_path):
    example, target = tmp_path / ".env.example", tmp_path / ".env"
    example.write_text(EXAMPLE)
    target.write_text("ES_PASSWORD=chosen-by-me\nS3_BUCKET=mine\n")
    assert ensure_env_file(example, target) is False
    text = target.read_text()
    assert text.startswith("ES_PASSWORD=chosen-by-me\nS3_BUCKET=mine\n")
    values = parse(text)
    assert values["ES_PASSWORD"] == "chosen-by-me" and values["S3_BUCKET"] == "mine"
    assert set(values) == {"ES_PASSWORD", "S3_BUCKET", "S3_ACCESS_KEY", "S3_SECRET_KEY", "KAFKA_PASSWORD"}
    assert "<generated>" not in text
    ensure_env_file(example, target)  # nothing missing any more: nothing added
    assert target.read_text() == text


def test_local_paths_fill_their_placeholder(tmp_path):
    example, target = tmp_path / ".env.example", tmp_path / ".env"
    example.write_text("ES_CA_CERTS=<local-ca>\nKAFKA_SSL_CA_LOCATION=<local-ca>\n")
    ensure_env_file(example, target, values={"<local-ca>": "/x/tls/ca.pem"})
    assert parse(target.read_text()) == {"ES_CA_CERTS": "/x/tls/ca.pem", "KAFKA_SSL_CA_LOCATION": "/x/tls/ca.pem"}
