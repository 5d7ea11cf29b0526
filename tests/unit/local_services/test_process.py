"""Pid files: start, recognise, stop; never signal a process that is not ours."""

from __future__ import annotations

import os
import subprocess
import sys

from local_services import process

SLEEPER = [sys.executable, "-c", "import time, sys; time.sleep(60)", "marker-for-test"]


def test_start_then_stop_by_pid(tmp_path):
    pid_file, log = tmp_path / "svc.pid", tmp_path / "svc.log"
    pid = process.start(SLEEPER, log_file=log, pid_file=pid_file, env={"PATH": "/usr/bin"}, cwd=tmp_path)
    assert process.read_pid(pid_file) == pid
    assert process.running_pid(pid_file, "marker-for-test") == pid
    current = process.rss_mb(pid)
    assert current > 0
    assert process.rss_mb(pid, "VmHWM") >= current  # the peak (read later) never below it
    assert process.stop(pid_file, "marker-for-test", timeout=10) == pid
    assert not process.is_running(pid, "marker-for-test")
    assert not pid_file.exists()


def test_a_reused_pid_is_not_taken_for_ours(tmp_path):
    pid_file = tmp_path / "svc.pid"
    pid_file.write_text(f"{os.getpid()}\n")  # alive, but without the marker
    assert process.running_pid(pid_file, "marker-for-test") is None
    assert process.stop(pid_file, "marker-for-test") is None
    assert not pid_file.exists()  # the stale file is cleaned up; this process lives on


def test_missing_or_garbled_pid_file(tmp_path):
    assert process.read_pid(tmp_path / "none.pid") is None
    (tmp_path / "bad.pid").write_text("not a pid")
    assert process.read_pid(tmp_path / "bad.pid") is None


def test_a_process_that_exits_just_before_the_signal_counts_as_stopped(tmp_path, monkeypatch):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # reaped: signalling its pid raises ProcessLookupError
    pid_file = tmp_path / "svc.pid"
    pid_file.write_text(f"{gone.pid}\n")
    answers = iter([True])  # alive when checked, gone when signalled
    monkeypatch.setattr(process, "is_running", lambda pid, marker: next(answers, False))
    assert process.stop(pid_file, "marker-for-test", timeout=5) == gone.pid
    assert not pid_file.exists()
