"""A run from staging to complete: the one place that decides when a run counts as done.

It is also where the champion decision takes effect. Outside the lock: the proposal
is settled against champion.json as read now, the outcome written into the run's
report and manifest (in staging, where nobody takes it for a run), every file
hashed. Then, under the lock and as one step (`imbalance.store.commit`): if
champion.json is still what the decision was settled against, the run moves into
runs/ and the promotion applies; if another run changed it meanwhile, nothing is
done and the decision is settled again (it is then "not promoted", which needs no
compare). Retention runs after, outside the lock too. Reports and manifests
therefore say what happened, and become visible in the same step as it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from imbalance.config import RetrainConfig
from imbalance.selection.champion import settle
from imbalance.selection.decision import Decision, Incumbent
from imbalance.store import commit, retention
from imbalance.store.commit import ChampionNotWritten, reached
from imbalance.store.layout import RunPaths
from imbalance.store.pointers import now, parse_champion
from imbalance.store.provenance import git_commit, package_versions, run_id_for, utc_now
from imbalance.store.records import (
    ChampionRecord,
    GateScore,
    HistoryEntry,
    RunFacts,
    RunRecord,
    StateFileError,
)
from imbalance.store.runs import ArtifactStore

# Writes the settled decision into the run at the given paths (its report), outside the lock.
RecordDecision = Callable[[Decision | None, RunPaths], None]
# Every step of completing a run that promotes, in order (`reached` after each): the
# kill test stops a run after each one (tests/unit/test_kill_between_steps.py).
STEPS = ("settled", "report written", "manifest written", *commit.STEPS, *retention.STEPS)
# Settled again this often at most if other runs keep changing the champion meanwhile.
ATTEMPTS = 5


@dataclass
class StagedRun:
    """A run being built: its staging paths, what it has learnt, and how it ended."""

    paths: RunPaths
    artifacts: ArtifactStore
    started: datetime
    config: dict[str, Any]
    facts: RunFacts = field(default_factory=RunFacts)
    final: RunPaths | None = None
    decision: Decision | None = None
    keep_runs: int = 0  # retention applied once the run is complete (0: keep all)
    staging_days: float | None = None
    retention: str | None = None  # what retention did, one line
    tracked: str | None = None  # why the track record could not be appended to, if so

    def learn(self, **facts: Any) -> None:
        """Record facts of the run for its manifest (named fields of RunFacts)."""
        self.facts = replace(self.facts, **facts)

    def record(self, status: str, error: str | None = None) -> RunRecord:
        """Return the run's manifest as of now (the store adds the files' digests)."""
        ended = utc_now()
        return RunRecord(
            run_id=self.paths.run_id,
            status=status,
            started=self.started.isoformat(timespec="seconds"),
            ended=ended.isoformat(timespec="seconds"),
            duration_seconds=round((ended - self.started).total_seconds(), 2),
            config=self.config,
            versions=package_versions(),
            git_commit=git_commit(),
            facts=self.facts,
            champion=self.decision,
            error=error,
        )

    def complete(
        self, proposal: Decision | None = None, record: RecordDecision | None = None
    ) -> RunPaths:
        """Complete the run and let `proposal` take effect; return the run's final paths.

        `record` writes the settled decision into the run (its report). If
        champion.json cannot be written, the run says "not promoted" and completes
        without the promotion; if even that cannot be written, it stays in staging
        and the error propagates: no run in runs/ claims a promotion that did not happen.
        """
        final = None
        for attempt in range(ATTEMPTS):
            seen = self.artifacts.champion_bytes()
            try:
                held = parse_champion(seen, self.artifacts.champion_file)
                current = Incumbent(held.run_id, held.variant) if held else None
            except StateFileError as exc:
                held, current = None, Incumbent(error=str(exc))
            decision = None if proposal is None else settle(proposal, current)
            if decision and decision.promoted and attempt == ATTEMPTS - 1:
                decision = decision.with_verdict(
                    False, "the champion kept changing; not promoted", "kept"
                )
            reached("settled")
            promotion = _promotion(decision, held)
            self._write(decision, record)
            try:
                final = self.artifacts.complete_run(
                    self.paths, self.record("completed"), promotion, seen
                )
            except ChampionNotWritten as exc:
                final = self._unpromoted(decision, record, exc.error)
            if final is not None:
                break
        self.final = final
        self._track(decision)
        self._retain()
        return final

    def _track(self, decision: Decision | None) -> None:
        """Append the night's gate scores to the champion's track record; never fail the run.

        After the run is complete, outside the lock: a line lost to a kill here leaves
        the run's manifest, which has the same scores, the one record of them.
        """
        entry = None if decision is None else GateScore.of(decision, self.facts.as_of, now())
        if entry is None:
            return
        try:
            self.artifacts.append_score(entry)
        except OSError as exc:
            self.tracked = f"the champion's track record was not appended to: {exc}"

    def _write(self, decision: Decision | None, record: RecordDecision | None) -> None:
        self.decision = decision
        if record is not None:
            record(decision, self.paths)
        reached("report written")

    def _unpromoted(
        self, decision: Decision, record: RecordDecision | None, error: OSError
    ) -> RunPaths:
        """Say in the run that champion.json could not be written, and complete it so.

        The promotion was undone (the run is back in staging). On a full disk the
        rewrite fails too: then the run stays in staging and the error propagates.
        """
        why = f"champion.json could not be written ({error}); not promoted"
        try:
            self._write(decision.with_verdict(False, why, "kept"), record)
            return self.artifacts.complete_run(self.paths, self.record("completed"))
        except OSError:
            raise error from None

    def _retain(self) -> None:
        """Apply the retention policy (outside the lock but for its renames); never fail the run.

        The run is complete by now: a store that cannot be pruned (damaged champion
        files, a permission problem) is said in the log and left as it is.
        """
        try:
            result = retention.enforce(self.artifacts, self.keep_runs, self.staging_days)
        except (StateFileError, OSError) as exc:
            self.retention = f"retention stopped (what it deleted before stays deleted): {exc}"
        else:
            self.retention = result.summary()


def _promotion(
    decision: Decision | None, previous: ChampionRecord | None
) -> tuple[ChampionRecord, HistoryEntry] | None:
    """Return the champion record and history line a promoting decision writes."""
    if decision is None or not decision.promoted:
        return None
    new = ChampionRecord.from_decision(decision, now())
    return new, HistoryEntry.of("promote", new, previous, decision.reason)


@contextlib.contextmanager
def staged_run(cfg: RetrainConfig, flow_run_name: str) -> Iterator[StagedRun]:
    """Yield a staging run; on failure mark it failed. The flow calls `complete` itself.

    A killed process never reaches either branch: its folder stays in staging
    with no manifest, which no reader takes for a complete run.
    """
    started = utc_now()
    artifacts = ArtifactStore(cfg.storage.artifacts_dir)
    paths = artifacts.start_run(run_id_for(started, flow_run_name))
    staged = StagedRun(
        paths,
        artifacts,
        started,
        cfg.model_dump(mode="json"),
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
                staged.paths, staged.record("failed", error=f"{type(exc).__name__}: {exc}")
            )
        raise
