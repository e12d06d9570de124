"""A temporary Prefect API for `imbalance run` in local mode, started before anything heavy.

Prefect starts such a server by itself when no PREFECT_API_URL is set, but only once
the flow is called, and its launcher sits in `prefect.server`, a module that takes
~4.5 s to import in the caller for nothing (measured here). This launches the same
command Prefect uses (uvicorn serving `prefect.server.api.server:create_app`, UI off)
before the caller imports Prefect, the flow and TensorFlow, so those ~8 s of imports
overlap the ~6 s the server needs to answer.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
# Prefect's default for PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS is 20 s; a first
# start on a new machine migrates its database (measured ~18 s), so allow more.
STARTUP_TIMEOUT_SECONDS = 60.0


class ServerError(RuntimeError):
    """The temporary server did not start; the message says why in one line."""


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, before exec
    """Ask Linux to end the server when the CLI dies, even by SIGKILL (no orphans).

    The signal comes when the *thread* that started the server ends, so `launch`
    must be called from the main thread.
    """
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class TemporaryServer:
    """One Prefect API server process on a free loopback port, stopped at exit.

    `launch` returns at once; a thread then waits for the API to answer and sends it
    a first request (the first one takes ~0.6 s, the next ones ~10 ms: measured), so
    that both happen while the caller imports. `wait` collects the outcome.
    """

    def __init__(self) -> None:
        self.port = 0
        self.process: subprocess.Popen | None = None
        self._ready = threading.Thread(target=self._await_ready, name="prefect-server-ready")
        self._error: ServerError | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def launch(self) -> None:
        """Start the server process and return at once (`wait` blocks until it answers).

        Call it from the main thread, before other threads start (`_die_with_parent`).
        """
        self._spawn()
        # atexit runs handlers last-registered first: registered before Prefect is
        # imported, this stops the server after Prefect has sent its last logs.
        atexit.register(self.stop)
        print(
            f"Starting a temporary Prefect server on http://127.0.0.1:{self.port} "
            "(local mode; `make up` runs a lasting one)",
            file=sys.stderr,
            flush=True,
        )
        self._ready.start()

    def wait(self) -> None:
        """Return once the API has answered; raise ServerError if it did not in time."""
        self._ready.join()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Stop the server process and wait for it (SIGKILL after 5 s)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _spawn(self) -> None:
        spec = importlib.util.find_spec("prefect")  # its location, without importing it
        if spec is None or not spec.submodule_search_locations:
            raise ServerError("Prefect is not installed in this environment (run `make install`)")
        app_dir = Path(next(iter(spec.submodule_search_locations))).parent
        self.port = _free_port()
        env = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        }
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(app_dir),
            "--factory",
            "prefect.server.api.server:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "error",
            "--lifespan",
            "on",
        ]
        preexec = _die_with_parent if sys.platform.startswith("linux") else None
        self.process = subprocess.Popen(command, env=env, preexec_fn=preexec)  # noqa: PLW1509

    def _await_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        with httpx.Client(timeout=5.0) as client:
            while time.monotonic() < deadline:
                code = self.process.poll() if self.process else None
                if code is not None:
                    self._error = ServerError(
                        f"the temporary Prefect server exited with code {code}"
                    )
                    return
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        client.get(f"{self.api_url}/admin/version")  # the slow first request
                        return
                time.sleep(0.1)
        self._error = ServerError(
            f"the temporary Prefect server did not answer within {STARTUP_TIMEOUT_SECONDS:.0f} s "
            f"on {self.api_url}"
        )


def _api_url_configured() -> bool:
    """Return whether a Prefect API is configured, without importing Prefect for it.

    In a fresh process that is the environment variable (a URL set in a Prefect
    profile is seen after the import, below); where Prefect is loaded already (tests
    under Prefect's harness, a caller's own settings), its settings say.
    """
    if "prefect.settings" in sys.modules:
        from prefect.settings import PREFECT_API_URL

        return bool(PREFECT_API_URL.value())
    return bool(os.environ.get("PREFECT_API_URL"))


@contextlib.contextmanager
def local_prefect_api(while_starting: Callable[[], T]) -> Iterator[T]:
    """Yield `while_starting()`, run while a temporary Prefect server starts, if needed.

    With PREFECT_API_URL set (a lasting server, a test harness) nothing is started.
    Otherwise the flow, and every thread or process it starts, uses the one server
    started here; it stops when the program exits.
    """
    if _api_url_configured():
        yield while_starting()
        return
    server = TemporaryServer()
    server.launch()
    try:
        value = while_starting()
        from prefect.settings import (
            PREFECT_API_URL,
            PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
            temporary_settings,
        )

        if PREFECT_API_URL.value():  # set in the Prefect profile: use that server
            server.stop()
            yield value
            return
        server.wait()
    except BaseException:
        server.stop()
        raise
    os.environ["PREFECT_API_URL"] = server.api_url  # for processes the flow may start
    # Heartbeats let a lasting server mark a run whose process died as crashed; this
    # server dies with the process, so they would only cost time: the flow waits up
    # to a second at its end for the heartbeat thread to wake up (measured ~0.5 s).
    updates = {PREFECT_API_URL: server.api_url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    with temporary_settings(updates=updates):
        yield value
