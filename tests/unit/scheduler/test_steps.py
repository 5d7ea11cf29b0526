"""A step dies with its scheduler: a scheduler killed mid-step (SIGKILL, out of memory) must
not leave its step running on beside the run of the scheduler that takes the lease over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scheduler.steps import SETPRIV

pytestmark = pytest.mark.process

# a scheduler in the middle of a step: the step writes its pid to argv[1] and sleeps
SCHEDULER = """
import sys
from scheduler.steps import run_step
step = "import os, sys, time; open(sys.argv[1] + '.part', 'w').write(str(os.getpid())); "
step += "os.rename(sys.argv[1] + '.part', sys.argv[1]); time.sleep(600)"
run_step("step", [sys.executable, "-c", step, sys.argv[1]], [], 3600)
"""


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(check, timeout_s: float = 30.0) -> bool:
    """Polls `check` up to a generous deadline (not a timing claim)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.skipif(SETPRIV is None, reason="no setpriv (util-linux) here: steps cannot be tied to the scheduler")
def test_a_step_dies_with_its_scheduler(tmp_path):
    pid_file = tmp_path / "step.pid"
    scheduler = subprocess.Popen([sys.executable, "-c", SCHEDULER, str(pid_file)])
    step = None
    try:
        assert wait_until(pid_file.exists), "the step never started"
        step = int(pid_file.read_text())
        assert alive(step)
        scheduler.kill()  # no chance to stop its step
        scheduler.wait()
        assert wait_until(lambda: not alive(step)), "the step runs on without its scheduler"
    finally:
        scheduler.kill()
        if step is not None and alive(step):
            os.kill(step, signal.SIGKILL)
