"""Service jars from Maven Central, through the ordinary `mvn` client and its ~/.m2 cache."""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
from pathlib import Path

from .errors import ServiceError

log = logging.getLogger(__name__)
POM_ROOT = Path(__file__).resolve().parent / "maven"


def pom(name: str) -> Path:
    return POM_ROOT / name / "pom.xml"


def fetch_jars(name: str, dest: Path) -> Path:
    """Copy the runtime dependencies of maven/<name>/pom.xml into `dest` (once per pom
    content: a stamp holding the pom's hash makes the second call free)."""
    pom_file = pom(name)
    digest = hashlib.sha256(pom_file.read_bytes()).hexdigest()[:16]
    stamp = dest / ".pom-sha256"
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return dest
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceError("Maven (`mvn`) is required to fetch the service jars: apt-get install maven")
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    log.info("fetching %s jars with Maven (cached in ~/.m2) into %s", name, dest)
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom_file),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={partial}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or not any(partial.glob("*.jar")):
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise ServiceError(
            f"downloading the {name} jars failed (mvn exit code {result.returncode}); is Maven "
            f"Central reachable? Output:\n{tail}"
        )
    (partial / ".pom-sha256").write_text(digest + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    partial.rename(dest)
    return dest


def fetch_artifact(coordinates: str, dest_dir: Path) -> Path:
    """One artifact (group:artifact:version:packaging[:classifier]) copied into `dest_dir`."""
    group, artifact, version, packaging, *classifier = coordinates.split(":")
    suffix = f"-{classifier[0]}" if classifier else ""
    target = dest_dir / f"{artifact}-{version}{suffix}.{packaging}"
    if target.is_file():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceError("Maven (`mvn`) is required to fetch the service files: apt-get install maven")
    dest_dir.mkdir(parents=True, exist_ok=True)
    log.info("fetching %s with Maven (cached in ~/.m2)", coordinates)
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "dependency:copy",
            f"-Dartifact={coordinates}",
            f"-DoutputDirectory={dest_dir}",
            "-Dmdep.overWriteIfNewer=true",
        ],
        capture_output=True,
        text=True,
        cwd=dest_dir,
    )
    if result.returncode != 0 or not target.is_file():
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise ServiceError(
            f"downloading {coordinates} failed (mvn exit code {result.returncode}); is Maven "
            f"Central reachable? Output:\n{tail}"
        )
    return target
