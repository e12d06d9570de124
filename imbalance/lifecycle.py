"""A run from staging to complete: the one place that decides when a run counts as done."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from imbalance.config import RetrainConfig
from imbalance.provenance import build_manifest, run_id_for, utc_now
from imbalance.store import ArtifactStore, RunPaths


@dataclass
class StagedRun:
    """A run being built: its staging paths and what the manifest will record."""

    paths: RunPaths
    counts: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    final: RunPaths | None = None


@contextlib.contextmanager
def staged_run(cfg: RetrainConfig, flow_run_name: str) -> Iterator[StagedRun]:
    """Yield a staging run; on success move it into `runs/`, on failure mark it failed.

    A killed process never reaches either branch: its folder stays in staging
    with no manifest, which no reader takes for a complete run.
    """
    started = utc_now()
    artifacts = ArtifactStore(cfg.artifacts_dir)
    staged = StagedRun(artifacts.start_run(run_id_for(started, flow_run_name)))
    config = cfg.model_dump(mode="json")

    def manifest(status: str, **extra: Any) -> dict[str, Any]:
        return build_manifest(
            staged.paths.run_id, config, started, status, staged.counts, staged.extra | extra
        )

    try:
        yield staged
    except BaseException as exc:
        artifacts.fail_run(staged.paths, manifest("failed", error=f"{type(exc).__name__}: {exc}"))
        raise
    staged.final = artifacts.complete_run(staged.paths, manifest("completed"))
