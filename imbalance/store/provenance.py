"""What a run was made with: package versions, git commit, times; and its id."""

from __future__ import annotations

import platform
import re
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

KEY_PACKAGES = [
    "imbalance-flow",
    "tensorflow",
    "keras",
    "scikit-learn",
    "prefect",
    "pandas",
    "pyarrow",
    "numpy",
    "pydantic",
    "matplotlib",
]
_RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[a-z0-9-]+$")


def utc_now() -> datetime:
    return datetime.now(UTC)


def run_id_for(started: datetime, flow_run_name: str) -> str:
    """Return a run id that sorts by time: UTC timestamp, then the flow run's name."""
    if _RUN_ID.match(flow_run_name):
        return flow_run_name  # the name already is "<timestamp>-<words>" (see flows/retrain.py)
    slug = re.sub(r"[^a-z0-9]+", "-", flow_run_name.lower()).strip("-") or "run"
    return f"{started:%Y%m%dT%H%M%SZ}-{slug}"


def package_versions() -> dict[str, str | None]:
    """Return the installed version of Python and each key package."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(where: Path | None = None) -> str | None:
    """Return the current git commit of the project, or None outside a git checkout."""
    where = where or Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None
