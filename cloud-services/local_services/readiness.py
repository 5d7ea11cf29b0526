"""Waiting for services, and telling a busy port from one of ours."""

from __future__ import annotations

import socket
import time
from collections import deque
from pathlib import Path
from typing import Callable

from .errors import ServiceError


def port_in_use(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def ensure_ports_free(service: str, host: str, ports: list[int]) -> None:
    """Before starting `service`: a listener on one of its ports is not ours (ours would have
    been found through its pid file), so starting would fail or talk to a stranger."""
    taken = [port for port in ports if port_in_use(host, port)]
    if taken:
        listed = ", ".join(str(p) for p in taken)
        raise ServiceError(
            f"cannot start {service}: port(s) {listed} on {host} are already in use by a process "
            f"this tool did not start (see `ss -ltnp | grep -E ':({'|'.join(map(str, taken))})\\b'`). "
            "Stop that process or point the tests at it with PIPELINE_SERVICES=external."
        )


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        with open(path, errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines))
    except FileNotFoundError:
        return f"(no log at {path})"


def wait_until(
    check: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    log_file: Path,
    alive: Callable[[], bool] = lambda: True,
    interval: float = 0.5,
) -> None:
    """Poll `check` until it is true; raise with the tail of `log_file` on timeout or when
    the process died (no point waiting for a dead process)."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if not alive():
            raise ServiceError(f"{what} exited during start-up. Last lines of {log_file}:\n{log_tail(log_file)}")
        if time.monotonic() > deadline:
            raise ServiceError(
                f"{what} was not ready after {timeout:.0f} s. Last lines of {log_file}:\n{log_tail(log_file)}"
            )
        time.sleep(interval)
