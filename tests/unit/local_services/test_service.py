"""Start-or-reuse decisions of Service.up, and the download error, with simple fakes."""

from __future__ import annotations

import sys

import pytest

from local_services import maven
from local_services.errors import ServiceError
from local_services.service import Service
from local_services.settings import LocalSettings
from tests.support.ports import free_port

from .conftest import LOCAL_ENV

ENV = LOCAL_ENV


class FakeService(Service):
    """A `python -c sleep` standing in for a server, on a port chosen by the test."""

    name = "fake"
    start_timeout = 10

    def __init__(self, settings, port, ready=True):
        super().__init__(settings)
        self.port, self.ready, self.launched = port, ready, 0

    @property
    def marker(self):
        return f"fake-service-{self.port}"

    @property
    def ports(self):
        return [self.port]

    def launch(self):
        from local_services import process

        self.launched += 1
        process.start(
            [sys.executable, "-c", "import time; time.sleep(60)", self.marker],
            log_file=self.log_file,
            pid_file=self.pid_file,
            env={"PATH": "/usr/bin"},
            cwd=self.data_dir,
        )

    def is_ready(self):
        return self.ready


@pytest.fixture
def settings(tmp_path):
    return LocalSettings.from_env(
        {**ENV, "PIPELINE_LOCAL_DIR": str(tmp_path / "local"), "PIPELINE_CACHE_DIR": str(tmp_path / "cache")}
    )


def test_up_starts_once_then_reuses(settings):
    settings.paths.create()
    service = FakeService(settings, free_port())
    try:
        assert service.up().startswith("started in")
        assert service.up() == "already running"
        assert service.launched == 1
        assert service.status().ready and service.status().pid == service.pid()
    finally:
        service.stop()
    assert service.pid() is None


def test_up_refuses_a_port_held_by_a_stranger(settings, busy_port):
    settings.paths.create()
    service = FakeService(settings, busy_port)
    with pytest.raises(ServiceError, match=f"port\\(s\\) {busy_port} .* not start"):
        service.up()
    assert service.launched == 0


def test_a_service_that_never_answers_fails_with_its_log(settings):
    settings.paths.create()
    service = FakeService(settings, free_port(), ready=False)
    service.start_timeout = 0.5
    service.log_file.write_text("listening failed: something\n")
    try:
        with pytest.raises(ServiceError, match="fake was not ready after(.|\n)*listening failed"):
            service.up()
    finally:
        service.stop()


def test_failed_download_shows_mavens_output(tmp_path, monkeypatch):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    mvn = fake_bin / "mvn"
    mvn.write_text("#!/bin/sh\necho '[ERROR] Could not transfer artifact: Network is unreachable'\nexit 1\n")
    mvn.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake_bin))
    with pytest.raises(ServiceError, match="downloading the kafka jars failed(.|\n)*Network is unreachable"):
        maven.fetch_jars("kafka", tmp_path / "lib")
    assert not (tmp_path / "lib").exists()
