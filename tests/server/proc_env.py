"""Which processes a server test left running: found by the PREFECT_HOME in their environment."""

from __future__ import annotations

import os
from pathlib import Path


def processes_with(home: Path) -> list[int]:
    """Return the ids of live processes started with this PREFECT_HOME (server, worker, runs)."""
    marker = f"PREFECT_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours
            continue
    return found
