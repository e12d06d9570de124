"""The server tests' fixtures: a Prefect stack per module and a worker per test (stack.py)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
from stack import (
    PREFECT,
    SERVER_START_SECONDS,
    Stack,
    copy_project,
    environment,
    free_port,
    start,
    stop,
    sweep,
    tail,
)


@pytest.fixture(scope="module")
def stack(request, tmp_path_factory) -> Iterator[Stack]:
    """A Prefect server on a free port of 127.0.0.1, with the project deployed from a copy.

    A test module's `STACK_ENV` (a dict), if any, is added to the environment of the
    server, the deploy script and the workers.
    """
    root = tmp_path_factory.mktemp("prefect-stack")
    home, logs = root / "home", root / "logs"
    logs.mkdir()
    project = copy_project(root / "project")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = environment(api, home, project) | getattr(request.module, "STACK_ENV", {})
    server = start(
        [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env,
        root,
        logs / "server.log",
    )
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            assert server.poll() is None, "server exited:\n" + tail(logs / "server.log")
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (
                f"no answer from {api}/health in {SERVER_START_SECONDS}s:\n"
                + tail(logs / "server.log")
            )
            time.sleep(0.5)
        # What `make deploy` runs: the work pool if missing, then `prefect deploy --all`.
        deployed = subprocess.run(
            ["scripts/prefect-stack.sh", "deploy"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        yield Stack(api, home, project, env, logs)
    finally:
        stop(server)
        left = sweep(home)
        assert not left, f"processes left behind: {left}"


@pytest.fixture
def worker(stack: Stack) -> Iterator[subprocess.Popen]:
    """A worker of the local-process pool, started like `make worker`; stopped afterwards.

    One for each test that needs it, so that a run goes to the worker its test watches.
    """
    process = start(
        [str(PREFECT), "worker", "start", "--pool", "local-process"],
        stack.env | {"PREFECT_WORKER_QUERY_SECONDS": "2"},
        stack.project,
        stack.logs / "worker.log",
    )
    try:
        yield process
    finally:
        stop(process)
