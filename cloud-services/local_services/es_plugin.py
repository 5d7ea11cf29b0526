"""Builds and installs the small `GET /` plugin (es_root_plugin/) into an Elasticsearch home.

The integ-test-zip distribution has no `rest-root` module, so without this plugin the root
endpoint answers 405 and the Python client's `info()` and `ping()` fail locally while they
work against any real distribution."""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import ServiceError

log = logging.getLogger(__name__)

SOURCE = Path(__file__).resolve().parent / "es_root_plugin" / "RootEndpointPlugin.java"
PLUGIN_NAME = "local-root"
CLASS_NAME = "local.pipeline.esroot.RootEndpointPlugin"


def descriptor(es_version: str) -> str:
    return "\n".join(
        [
            "description=GET / and HEAD / for the integ-test-zip distribution (local_services)",
            "version=1.0",
            f"name={PLUGIN_NAME}",
            f"classname={CLASS_NAME}",
            "java.version=17",
            f"elasticsearch.version={es_version}",
            "",
        ]
    )


def install_root_plugin(es_home: Path, es_version: str, java_home: Path) -> bool:
    """Compile and install the plugin unless this source is already installed; False (with a
    warning) when the Java runtime has no compiler."""
    target = es_home / "plugins" / PLUGIN_NAME
    digest = hashlib.sha256(SOURCE.read_bytes() + es_version.encode()).hexdigest()[:16]
    stamp = target / ".source-sha256"
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return True
    javac, jar = java_home / "bin" / "javac", java_home / "bin" / "jar"
    if not (javac.is_file() and jar.is_file()):
        log.warning(
            "%s has no javac (a JRE only): GET / of the local Elasticsearch will answer "
            "405; install a JDK (openjdk-17-jdk-headless) to get it",
            java_home,
        )
        return False
    with tempfile.TemporaryDirectory() as tmp:
        classes = Path(tmp) / "classes"
        compiled = subprocess.run(
            [str(javac), "--release", "17", "-nowarn", "-cp", f"{es_home / 'lib'}/*", "-d", str(classes), str(SOURCE)],
            capture_output=True,
            text=True,
        )
        if compiled.returncode != 0:
            raise ServiceError(f"compiling {SOURCE.name} failed:\n{compiled.stdout}{compiled.stderr}")
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        packed = subprocess.run(
            [str(jar), "cf", str(partial / f"{PLUGIN_NAME}.jar"), "-C", str(classes), "."],
            capture_output=True,
            text=True,
        )
        if packed.returncode != 0:
            raise ServiceError(f"packing the Elasticsearch plugin failed:\n{packed.stderr}")
    (partial / "plugin-descriptor.properties").write_text(descriptor(es_version))
    (partial / ".source-sha256").write_text(digest + "\n")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    log.info("installed the Elasticsearch plugin %s (GET /) in %s", PLUGIN_NAME, target)
    return True
