"""Detached service processes tracked by pid files.

A pid is trusted only while /proc/<pid>/cmdline still contains the service's marker,
so a stale pid file whose number was reused by an unrelated process is never signalled."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Mapping, Sequence

log = logging.getLogger(__name__)


def read_pid(pid_file: Path) -> int | None:
    try:
        text = pid_file.read_text().strip()
    except (FileNotFoundError, PermissionError):
        return None
    return int(text) if text.isdigit() else None


def command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def is_running(pid: int | None, marker: str) -> bool:
    if not pid:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z" and marker in command_line(pid)


def running_pid(pid_file: Path, marker: str) -> int | None:
    """The pid from `pid_file` if that process is alive and is ours."""
    pid = read_pid(pid_file)
    return pid if is_running(pid, marker) else None


def rss_mb(pid: int, field: str = "VmRSS") -> float | None:
    """A memory figure of process `pid` in MiB from /proc/<pid>/status: its resident set
    (VmRSS) or the peak of it (VmHWM); None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return None


def start(
    command: Sequence[str],
    *,
    log_file: Path,
    pid_file: Path,
    env: Mapping[str, str],
    cwd: Path,
) -> int:
    """Start `command` in its own session (it survives the CLI), output appended to `log_file`."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as out:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    pid_file.write_text(f"{process.pid}\n")
    # Popen returns once exec has begun; /proc/<pid>/cmdline shows the new command a moment
    # later. Wait for it, so an immediate liveness check does not take it for dead.
    deadline = time.monotonic() + 5
    while command[-1] not in command_line(process.pid) and process.poll() is None:
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    log.debug("started pid %s: %s", process.pid, command[0])
    return process.pid


def _signal(pid: int, signal_number: int) -> None:
    try:
        os.kill(pid, signal_number)
    except ProcessLookupError:  # it exited since the last check: stopped all the same
        pass


def stop(pid_file: Path, marker: str, timeout: float = 30.0) -> int | None:
    """SIGTERM the process of `pid_file`, SIGKILL after `timeout`; the pid that was stopped."""
    pid = running_pid(pid_file, marker)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return None
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_running(pid, marker):
            break
        time.sleep(0.2)
    else:
        log.warning("pid %s did not stop within %.0f s after SIGTERM: sending SIGKILL", pid, timeout)
        _signal(pid, signal.SIGKILL)
        while is_running(pid, marker):
            time.sleep(0.1)
    pid_file.unlink(missing_ok=True)
    return pid
