"""Running a stage's command as a child process that can be stopped: when the lease is
lost, the scheduler is asked to stop, or the step runs too long."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

log = logging.getLogger(__name__)

TERMINATE_GRACE_S = 30  # after SIGTERM, this long before SIGKILL
# util-linux's setpriv (Linux): the kernel sends the step SIGKILL when the thread that started it
# ends, i.e. when the scheduler dies without stopping it (SIGKILL, out of memory), so the step
# never runs on beside the run of the scheduler that takes the lease over
SETPRIV = shutil.which("setpriv")


def dies_with_scheduler(command: Sequence[str]) -> list[str]:
    """`command`, made to die with the scheduler where the system can (else as it is)."""
    return [SETPRIV, "--pdeathsig", "KILL", "--", *command] if SETPRIV else list(command)


@dataclass
class StepResult:
    exit_code: int | None  # None: stopped before it finished
    summary: dict[str, Any] = field(default_factory=dict)
    stopped_because: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def _stop(process: subprocess.Popen, name: str) -> None:
    """SIGTERM to the child's whole process group (mrjob's local tasks, Hadoop's JVM),
    then SIGKILL if it does not end."""
    for sig, wait in ((signal.SIGTERM, TERMINATE_GRACE_S), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop after %s; sending SIGKILL", name, sig.name)


def run_step(
    name: str, command: Sequence[str], stop_events: Sequence[tuple[threading.Event, str]], timeout_s: float
) -> StepResult:
    """Run `command` plus `--summary-file <tmp>`; returns its exit code and summary.
    `stop_events`: (event, reason) pairs; when one is set the child is stopped."""
    with tempfile.TemporaryDirectory(prefix="scheduler-step-") as scratch:
        summary_path = Path(scratch) / "summary.json"
        full_command = [*command, "--summary-file", str(summary_path)]
        log.info("%s: %s", name, " ".join(full_command))
        started = time.monotonic()
        process = subprocess.Popen(dies_with_scheduler(full_command), start_new_session=True)
        reason = ""
        while process.poll() is None:
            try:
                process.wait(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                pass
            reason = next((why for event, why in stop_events if event.is_set()), "")
            if not reason and time.monotonic() - started > timeout_s:
                reason = f"ran longer than {timeout_s:.0f} s (SCHEDULER_STEP_TIMEOUT_S)"
            if reason:
                log.error("%s: stopping it: %s", name, reason)
                _stop(process, name)
                return StepResult(None, stopped_because=reason)
        summary: dict[str, Any] = {}
        if summary_path.is_file():
            try:
                summary = json.loads(summary_path.read_text(encoding="utf-8"))
            except ValueError as error:
                log.warning("%s: unreadable summary (%s)", name, error)
        return StepResult(process.returncode, summary)
