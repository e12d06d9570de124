"""`imbalance run` with no server configured, as `make run` calls it on a fresh machine.

The command starts one temporary Prefect server of its own, runs the flow against it
and stops it; killed, it takes the server down with it. Each test gets a fresh
PREFECT_HOME, so the server also creates its database as on a new machine.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from proc_env import processes_with

pytestmark = [pytest.mark.slow, pytest.mark.server]

TINY = {"n_samples": 5_000, "epochs": 2, "sweep_points": 2, "n_seeds": 2}
SERVER_LINE = re.compile(r"Starting a temporary Prefect server on http://127\.0\.0\.1:(\d+)")


def _local_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
    return env | {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def _gone_within(home: Path, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while processes_with(home) and time.monotonic() < deadline:
        time.sleep(0.2)
    return processes_with(home)


def _command(artifacts: Path) -> list[str]:
    options = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()]
    return [sys.executable, "-m", "cli", "run", *options, f"--artifacts-dir={artifacts}"]


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc")
def test_a_local_run_uses_one_temporary_server_and_leaves_no_process(tmp_path):
    home = tmp_path / "prefect-home"
    done = subprocess.run(
        _command(tmp_path / "artifacts"),
        env=_local_env(home),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(SERVER_LINE.findall(done.stderr)) == 1, done.stderr[-3000:]
    assert "| manual |" in done.stdout
    assert "Traceback" not in done.stderr
    assert (home / "prefect.db").exists()  # the run's server kept its state in PREFECT_HOME
    assert not _gone_within(home, 10), "the temporary server outlived the command"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_killing_the_command_takes_its_temporary_server_down(tmp_path):
    home = tmp_path / "prefect-home"
    proc = subprocess.Popen(
        _command(tmp_path / "artifacts"),
        env=_local_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline()
        assert SERVER_LINE.search(line), line
        deadline = time.monotonic() + 30
        while len(processes_with(home)) < 2:  # the command and its server
            assert time.monotonic() < deadline, "no server process appeared"
            time.sleep(0.1)
    finally:
        proc.kill()  # SIGKILL: no handler, no atexit in the command
        proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not _gone_within(home, 15), "the temporary server outlived the killed command"
