"""Finding a Java 17+ runtime for Kafka, Elasticsearch and Hadoop."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Mapping

from .errors import ServiceError

MIN_MAJOR = 17
_VERSION = re.compile(r'version "(?P<version>[^"]+)"')


def parse_major(version_output: str) -> int | None:
    """Major version from `java -version` output ("17.0.15" -> 17, "1.8.0_292" -> 8)."""
    match = _VERSION.search(version_output)
    if not match:
        return None
    parts = match["version"].split(".")
    head = parts[0]
    if head == "1" and len(parts) > 1:
        head = parts[1]
    digits = re.match(r"\d+", head)
    return int(digits.group()) if digits else None


def _candidates(env: Mapping[str, str], search_system: bool) -> list[Path]:
    found: list[Path] = []
    for name in ("PIPELINE_JAVA_HOME", "JAVA_HOME"):
        if env.get(name, "").strip():
            found.append(Path(env[name].strip()))
    on_path = shutil.which("java", path=env.get("PATH"))
    if on_path:
        found.append(Path(on_path).resolve().parent.parent)
    if search_system:
        found.extend(sorted(Path("/usr/lib/jvm").glob("*17*")))
    return found


def java_home(env: Mapping[str, str], search_system: bool = True) -> Path:
    """The first Java home with Java >= 17, checked by running it: PIPELINE_JAVA_HOME,
    JAVA_HOME, `java` on PATH, then (with `search_system`) /usr/lib/jvm/*17*."""
    seen = []
    for home in _candidates(env, search_system):
        binary = home / "bin" / "java"
        if not binary.is_file():
            continue
        result = subprocess.run([str(binary), "-version"], capture_output=True, text=True)
        major = parse_major(result.stderr + result.stdout)
        seen.append(f"{home} (Java {major})")
        if major is not None and major >= MIN_MAJOR:
            return home
    found = "; found: " + ", ".join(seen) if seen else ""
    raise ServiceError(
        f"Java {MIN_MAJOR} or newer is required for Kafka, Elasticsearch and Hadoop{found}. "
        "Install it (apt-get install openjdk-17-jre-headless) or set PIPELINE_JAVA_HOME."
    )
