"""A run from staging to complete: the one place that decides when a run counts as done.

It is also where the champion decision takes effect, because both must happen under
one lock and in one order: settle the proposal against the champion on disk, write
the settled decision into the run, move the run into `runs/`, and only then point
champion.json at it and append to the history. Reports and manifests therefore say
what happened, never what was intended.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from imbalance import retention
from imbalance.champion import champion_record, history_entry, settle, verdict
from imbalance.config import RetrainConfig
from imbalance.provenance import build_manifest, run_id_for, utc_now
from imbalance.store import ArtifactStore, RunPaths, StateFileError

# Writes the settled decision into the run at the given paths (its report), under the lock.
RecordDecision = Callable[[dict[str, Any] | None, RunPaths], None]


@dataclass
class StagedRun:
    """A run being built: its staging paths and what the manifest will record."""

    paths: RunPaths
    artifacts: ArtifactStore
    manifest: Callable[..., dict[str, Any]]
    counts: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    final: RunPaths | None = None
    decision: dict[str, Any] | None = None
    keep_runs: int = 0  # retention applied once the run is complete (0: keep all)
    staging_days: float | None = None
    retention: str | None = None  # what retention did, one line

    def complete(
        self, proposal: dict[str, Any] | None = None, record: RecordDecision | None = None
    ) -> RunPaths:
        """Complete the run and let `proposal` take effect; return the run's final paths.

        Under the store's lock: the proposal is settled against the champion now on
        disk, `record` writes the outcome into the run, the manifest (with it) is
        written, the run moves into `runs/`, and a promotion is applied last. If the
        champion cannot be written, the run's report and manifest are rewritten to
        say so: they never claim a promotion that did not happen.
        """
        artifacts = self.artifacts
        with artifacts.locked():
            decision = proposal
            if proposal is not None:
                try:
                    current = artifacts.champion()
                except StateFileError as exc:
                    current = {"error": str(exc)}
                decision = settle(proposal, current)
            self._record(decision, record)
            self.final = artifacts.complete_run(self.paths, self.manifest("completed"), False)
            if decision is not None and decision["promoted"]:
                self._promote(decision, current, record)
            artifacts.update_latest(self.final.run_id)
            self._retain()
        return self.final

    def _retain(self) -> None:
        """Apply the retention policy, under the lock promotion holds; never fail the run.

        The run is complete by now: a store that cannot be pruned (damaged champion
        files, a permission problem) is said in the log and left as it is.
        """
        try:
            result = retention.enforce(self.artifacts, self.keep_runs, self.staging_days)
        except (StateFileError, OSError) as exc:
            self.retention = f"retention stopped (what it deleted before stays deleted): {exc}"
        else:
            self.retention = result.summary()

    def _unpromoted(
        self, decision: dict[str, Any], record: RecordDecision | None, error: OSError
    ) -> None:
        """Say in the run that champion.json could not be written; if even that fails, undo.

        On a full disk the rewrite fails too: then the run moves back to staging (a
        rename needs no space) and the error propagates, so that no run in runs/
        claims a promotion that did not happen.
        """
        decision = decision | verdict(
            False, f"champion.json could not be written ({error}); not promoted"
        )
        self.paths = self.final  # the run now lives in runs/: rewrite it there
        try:
            self._record(decision, record)
            self.artifacts.write_manifest(self.final, self.manifest("completed"))
        except OSError:
            self.paths = self.artifacts.uncomplete_run(self.final)
            self.final = None
            raise error from None

    def _record(self, decision: dict[str, Any] | None, record: RecordDecision | None) -> None:
        self.decision = decision
        if decision is not None:
            self.extra["champion"] = decision
        if record is not None:
            record(decision, self.paths)

    def _promote(
        self,
        decision: dict[str, Any],
        previous: dict[str, Any] | None,
        record: RecordDecision | None,
    ) -> None:
        new = champion_record(decision, utc_now().isoformat(timespec="seconds"))
        try:
            self.artifacts.set_champion(new)
        except OSError as exc:
            self._unpromoted(decision, record, exc)
            return
        # The promotion has taken effect; a history line that cannot be written does
        # not undo it (`imbalance verify all` names a promotion missing from the history).
        with contextlib.suppress(OSError):
            self.artifacts.append_history(
                history_entry("promote", new, previous, decision["reason"])
            )


@contextlib.contextmanager
def staged_run(cfg: RetrainConfig, flow_run_name: str) -> Iterator[StagedRun]:
    """Yield a staging run; on failure mark it failed. The flow calls `complete` itself.

    A killed process never reaches either branch: its folder stays in staging
    with no manifest, which no reader takes for a complete run.
    """
    started = utc_now()
    artifacts = ArtifactStore(cfg.storage.artifacts_dir)
    config = cfg.model_dump(mode="json")
    paths = artifacts.start_run(run_id_for(started, flow_run_name))

    def manifest(status: str, **extra: Any) -> dict[str, Any]:
        return build_manifest(
            staged.paths.run_id, config, started, status, staged.counts, staged.extra | extra
        )

    staged = StagedRun(
        paths,
        artifacts,
        manifest,
        keep_runs=cfg.storage.keep_runs,
        staging_days=cfg.storage.staging_days,
    )
    try:
        with artifacts.running(paths):  # `prune` never deletes a run while this lasts
            yield staged
            if staged.final is None:
                staged.complete()
    except BaseException as exc:
        if staged.final is None:
            artifacts.fail_run(
                staged.paths, manifest("failed", error=f"{type(exc).__name__}: {exc}")
            )
        raise
