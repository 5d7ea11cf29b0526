"""Busy ports, waiting with a deadline, and the log tail in the error."""

from __future__ import annotations

import pytest

from local_services.errors import ServiceError
from local_services.readiness import ensure_ports_free, log_tail, port_in_use, wait_until
from tests.support.ports import free_port


def test_port_in_use_tells_a_listener_from_a_free_port(busy_port):
    assert port_in_use("127.0.0.1", busy_port)
    assert not port_in_use("127.0.0.1", free_port())


def test_a_foreign_listener_blocks_the_start_with_the_port_named(busy_port):
    free = free_port()
    with pytest.raises(ServiceError, match=rf"cannot start kafka: port\(s\) {busy_port} "):
        ensure_ports_free("kafka", "127.0.0.1", [free, busy_port])
    ensure_ports_free("kafka", "127.0.0.1", [free])  # no error


def test_timeout_error_carries_the_end_of_the_log(tmp_path):
    log = tmp_path / "svc.log"
    log.write_text("".join(f"line {n}\n" for n in range(100)))
    with pytest.raises(ServiceError) as error:
        wait_until(lambda: False, what="svc", timeout=0.2, log_file=log, interval=0.05)
    message = str(error.value)
    assert "svc was not ready after" in message
    assert "line 99" in message and "line 10\n" not in message


def test_a_dead_process_fails_at_once(tmp_path):
    log = tmp_path / "svc.log"
    log.write_text("java.net.BindException: Address already in use\n")
    with pytest.raises(ServiceError, match="exited during start-up(.|\n)*BindException"):
        wait_until(lambda: False, what="svc", timeout=60, log_file=log, alive=lambda: False)


def test_wait_returns_once_ready(tmp_path):
    answers = iter([False, False, True])
    wait_until(lambda: next(answers), what="svc", timeout=5, log_file=tmp_path / "x", interval=0.01)


def test_log_tail_of_a_missing_log_says_so(tmp_path):
    assert "no log at" in log_tail(tmp_path / "missing.log")
