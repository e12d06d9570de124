"""The store's lock, and the mark that says a run's process is still alive.

The lock serialises changes of the shared pointers (which runs are in runs/,
champion.json, the history, latest.json) between processes: a local `make run` can
overlap a run of the server's worker, both in one folder. It is held only while
pointers change; hashing, rendering and deleting files happen outside it.
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

_HELD = threading.local()  # the stores whose lock this thread holds


def holds(root: Path) -> bool:
    """Return whether this thread holds the lock of the store at `root`."""
    return str(root.resolve()) in _HELD.__dict__.get("roots", set())


@contextlib.contextmanager
def store_lock(root: Path, lock_file: Path, on_acquire: Callable[[], None]) -> Iterator[None]:
    """Hold the store's lock; `on_acquire` runs first thing once it is taken.

    Re-entrant within a thread (retention applied by a caller that holds the lock
    already): flock on a second descriptor would wait for itself. `on_acquire` is
    where an interrupted commit is completed, before anyone reads the pointers.
    """
    key = str(root.resolve())
    held = _HELD.__dict__.setdefault("roots", set())
    if key in held:
        yield
        return
    root.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        held.add(key)
        try:
            on_acquire()
            yield
        finally:
            held.discard(key)
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def running_mark(marker: Path) -> Iterator[None]:
    """Hold `marker` for as long as the block lasts (a lock this process holds).

    The kernel drops the lock when the process ends, however it ends: a killed
    run's folder is no longer marked, a running one always is.
    """
    marker.parent.mkdir(parents=True, exist_ok=True)
    with open(marker, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            marker.unlink(missing_ok=True)


def is_marked(marker: Path) -> bool:
    """Return whether a live process holds `marker` (a missing mark: no)."""
    try:
        fh = open(marker)  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return False
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False
