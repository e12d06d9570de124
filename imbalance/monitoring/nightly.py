"""Whether a night has anything new to learn: the skip check of `skip_unchanged`.

A run is unchanged when its data's fingerprint, every config field that shapes the
data or the models (all but as_of, skip_unchanged and the retention fields) and the
code (git commit, package versions) equal those of the newest complete run. Only the
newest counts: going back to an older state of the data is a change worth a run.
Anything unreadable counts as changed: a damaged manifest never makes a night skip.
"""

from __future__ import annotations

import json
from typing import Any

from imbalance.config import RetrainConfig, learned_part
from imbalance.store import ArtifactStore, RunRecord, StateFileError

SKIPPED = "Skipped"  # the name of the Completed state of a run that had nothing new


def unchanged_since(artifacts: ArtifactStore, cfg: RetrainConfig, fingerprint: str) -> str | None:
    """Return the newest complete run's id if it had the same data and config, else None."""
    run_id = artifacts.latest_run_id()
    if run_id is None:
        return None
    try:
        manifest = artifacts.manifest(run_id)
        recorded = learned_part(manifest.config)  # flat (before sections) or in sections
        sha256 = (manifest.facts.data or {})["sha256"]
    except (LookupError, StateFileError, TypeError, ValueError, AttributeError):
        return None
    # Compared as JSON, as the manifest keeps it; a field an older version did not
    # have makes the configs differ: retraining is the safe side.
    same_config = recorded == json.loads(json.dumps(cfg.learned_from()))
    if sha256 == fingerprint and same_config and _same_code(manifest):
        return run_id
    return None


def _same_code(manifest: RunRecord) -> bool:
    """Whether the run was made by this code: its git commit and every key package's version.

    Another version (of this project, TensorFlow, Keras, scikit-learn, ...) may train
    differently with the same data and config: it retrains. Not seen: uncommitted
    edits of a checkout (its commit is the same); `--force` retrains after those.
    """
    from imbalance.store.provenance import git_commit, package_versions

    return manifest.git_commit == git_commit() and manifest.versions == package_versions()


def skip_message(run_id: str, fingerprint: str) -> str:
    return (
        f"nothing new: the data (sha256 {fingerprint[:12]}…) and the config are those of run "
        f"{run_id}; no run was made (force a retrain with --force or nightly.skip_unchanged off)"
    )


def as_of_record(as_of: Any) -> str:
    """Return the as-of time as manifests and reports show it (ISO 8601 with its offset)."""
    return as_of.isoformat(timespec="seconds")
