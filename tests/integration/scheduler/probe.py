"""Wraps a command for the scheduler tests: records when it ran and notices, on its own,
whether another wrapped command was running at the same time (an exclusive marker file).

    python probe.py <folder> -- <command ...>
"""

import os
import subprocess
import sys
import time
from pathlib import Path

folder = Path(sys.argv[1])
command = sys.argv[sys.argv.index("--") + 1 :]
marker = folder / "running"
try:
    os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    mine = True
except FileExistsError:
    mine = False
    with open(folder / "overlaps", "a") as log:
        log.write(f"{os.getpid()} started while {marker.read_text() if marker.exists() else '?'} ran\n")
started = time.time()
try:
    code = subprocess.call(command)
finally:
    if mine:
        marker.unlink()
with open(folder / "runs", "a") as log:
    log.write(f"{started} {time.time()} {os.getpid()} {code}\n")
sys.exit(code)
