import pytest

from local_services.errors import ServiceError
from local_services.java import java_home, parse_major


@pytest.mark.parametrize(
    "output, major",
    [
        ('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment', 17),
        ('openjdk version "25" 2025-09-16', 25),
        ('java version "1.8.0_292"', 8),
        ('openjdk version "21-ea" 2023-09-19', 21),
        ("command not found", None),
    ],
)
def test_parse_major(output, major):
    assert parse_major(output) == major


def test_an_old_java_home_is_refused_with_what_was_found(tmp_path):
    home = tmp_path / "jdk8"
    (home / "bin").mkdir(parents=True)
    fake = home / "bin" / "java"
    fake.write_text("#!/bin/sh\necho 'java version \"1.8.0_292\"' >&2\n")
    fake.chmod(0o755)
    with pytest.raises(ServiceError, match=r"Java 17 or newer is required.*Java 8"):
        java_home({"PIPELINE_JAVA_HOME": str(home), "PATH": str(tmp_path / "empty")}, search_system=False)
