"""Task: how this run's training data differs from the champion's (imbalance/monitoring/)."""

from __future__ import annotations

from typing import Any

from prefect import task

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.data import DataError, DataSpec
from imbalance.data.spec import recorded_spec
from imbalance.monitoring.drift import compare
from imbalance.store import ArtifactStore, RunPaths, StateFileError
from tasks._prefect import run_logger

TARGET = "__class__"  # both sides' labels as 0/1: the champion's data may spell them otherwise


@task(name="drift_against_champion")
def drift_against_champion(cfg: RetrainConfig, run: RunPaths, spec: DataSpec) -> dict[str, Any]:
    """Return the drift record of this run's training part against the champion run's.

    Never fails the run: without a champion, or with one whose data cannot be read,
    the record says so (`status`) and nothing is compared.
    """
    artifacts = ArtifactStore(cfg.storage.artifacts_dir)
    try:
        champion = artifacts.champion()
        if champion is None:
            return {"status": "no champion", "reason": "no champion yet: nothing to compare with"}
        against = artifacts.run(champion.run_id)
        reference_spec = recorded_spec(store.read_json(against.manifest))
        reference = store.read_parquet(against.train)
    except (StateFileError, LookupError, DataError, OSError, ValueError) as exc:
        what = "no such file" if isinstance(exc, FileNotFoundError) else type(exc).__name__
        reason = f"the champion's training data cannot be read ({what}: {exc})"
        run_logger("imbalance.drift").warning("drift: %s", reason)
        return {"status": "unavailable", "reason": reason}
    current = store.read_parquet(run.train)
    reference[TARGET] = reference_spec.target(reference)
    current[TARGET] = spec.target(current)
    names = {f.name for f in spec.features}
    features = [*spec.features, *(f for f in reference_spec.features if f.name not in names)]
    report = compare(reference, current, features, TARGET, 1)
    before = {f.name: f.kind for f in reference_spec.features}
    changed = {
        f.name: f"{before[f.name]} → {f.kind}"
        for f in spec.features
        if f.name in before and before[f.name] != f.kind
    }
    run_logger("imbalance.drift").info(
        "drift against champion run %s: %s", against.run_id, report.summary()
    )
    summary = report.summary()
    if changed:
        summary += "; kind changed: " + ", ".join(f"{n} ({k})" for n, k in changed.items())
    return {
        "status": "compared",
        "against": against.run_id,
        "summary": summary,
        "kind_changed": changed,
        **report.to_json(),
    }
