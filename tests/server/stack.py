"""A real Prefect stack for the server tests: a server on loopback, `make deploy`'s script, workers.

One server per test module (the `stack` fixture in conftest.py), on a free port of
127.0.0.1 with a temporary PREFECT_HOME, deployed from a copy of the project (so the
deployment's working directory, and any path a run resolves against it, is temporary
too). Runs are created through the REST API the way the UI's Run button creates them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from proc_env import processes_with

PROJECT = Path(__file__).resolve().parents[2]
PREFECT = Path(sys.executable).parent / "prefect"
COPIED = ["prefect.yaml", "pyproject.toml", "imbalance", "tasks", "flows", "scripts"]
SERVER_START_SECONDS = 90
RUN_SECONDS = 150
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


class RetryingClient(httpx.Client):
    """An httpx client that retries 503 as Prefect's own client does.

    The server answers 503 "Service Unavailable" when its SQLite database is busy (the
    worker, the runs' heartbeats and events, the automations all write to it); Prefect's
    client retries such answers, so the test's calls do too (a few times, backing off).
    """

    def request(self, *args, **kwargs) -> httpx.Response:
        for wait in (0.5, 1, 2, 4, 8):
            response = super().request(*args, **kwargs)
            if response.status_code != 503:
                return response
            time.sleep(wait)
        return super().request(*args, **kwargs)


@dataclass
class Stack:
    api: str
    home: Path
    project: Path
    env: dict[str, str]
    logs: Path

    def client(self) -> httpx.Client:
        return RetryingClient(base_url=self.api, timeout=30)

    def deployment(self, name: str) -> dict:
        with self.client() as api:
            response = api.get(f"/deployments/name/retrain/{name}")
        response.raise_for_status()
        return response.json()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def copy_project(target: Path) -> Path:
    """Copy what a deployment needs; the copy runs with the project's own .venv."""
    target.mkdir()
    for name in COPIED:
        source = PROJECT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(PROJECT / ".venv")
    return target


def environment(api: str, home: Path, project: Path) -> dict[str, str]:
    """Return this process's environment without its Prefect settings, then the stack's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return env | {
        "PREFECT_API_URL": api,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PWD": str(project),
    }


def start(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(process: subprocess.Popen) -> None:
    """Stop a process and its group: TERM, TERM again (a Prefect worker needs two), KILL."""
    for sig, wait in [(signal.SIGTERM, 5), (signal.SIGTERM, 10), (signal.SIGKILL, 10)]:
        if process.poll() is not None:
            break
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            continue
    process.wait(10)


def sweep(home: Path) -> list[int]:
    """TERM, then KILL, whatever still runs with this PREFECT_HOME; return what was left."""
    if not Path("/proc/self/environ").exists():
        return []
    for sig in (signal.SIGTERM, signal.SIGKILL):
        left = processes_with(home)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 5
        while processes_with(home) and time.monotonic() < deadline:
            time.sleep(0.1)
    return processes_with(home)


def tail(path: Path, lines: int = 40) -> str:
    return (
        "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""
    )


def run_logs(api: httpx.Client, flow_run_id: str, lines: int = 40) -> str:
    """Return the last log lines of a flow run as the UI shows them (the worker has no copy)."""
    found = api.post(
        "/logs/filter",
        json={"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "sort": "TIMESTAMP_ASC"},
    ).json()
    return "\n".join(f"{log['level']} {log['message']}" for log in found[-lines:])


def start_run(
    api: httpx.Client,
    stack: Stack,
    worker: subprocess.Popen,
    deployment_id: str,
    cfg: dict,
    started: Callable[[str], bool],
) -> str:
    """Create a run of the deployment as the Run button does; return its id once it is
    RUNNING and `started(its id)` holds. Fails on a run that ends, a worker that exits, or
    RUN_SECONDS without either."""
    created = api.post(
        f"/deployments/{deployment_id}/create_flow_run", json={"parameters": {"cfg": cfg}}
    )
    assert created.status_code == 201, created.text
    flow_run_id = created.json()["id"]
    deadline = time.monotonic() + RUN_SECONDS
    while True:
        flow_run = api.get(f"/flow_runs/{flow_run_id}").json()
        if flow_run["state_type"] == "RUNNING" and started(flow_run_id):
            return flow_run_id
        assert flow_run["state_type"] not in TERMINAL, run_logs(api, flow_run_id)
        assert worker.poll() is None, "worker exited:\n" + tail(stack.logs / "worker.log")
        assert time.monotonic() < deadline, f"run still {flow_run['state_type']}"
        time.sleep(0.2)


def wait_for_end(
    api: httpx.Client, flow_run_id: str, worker: subprocess.Popen | None, logs: Path
) -> dict:
    """Poll a flow run until it ends; fail on a worker that exits (if given) or a timeout."""
    deadline = time.monotonic() + RUN_SECONDS
    while True:
        flow_run = api.get(f"/flow_runs/{flow_run_id}").json()
        if flow_run["state_type"] in TERMINAL:
            return flow_run
        if worker is not None:
            assert worker.poll() is None, "worker exited:\n" + tail(logs / "worker.log")
        assert time.monotonic() < deadline, (
            f"run still {flow_run['state_type']} after {RUN_SECONDS}s:\n"
            + run_logs(api, flow_run_id)
        )
        time.sleep(1)


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
