"""Which runs to keep: the newest N complete ones, every champion's, every running one.

The retrain flow enforces it after each complete run (`enforce`); `imbalance prune`
applies it by hand. The plan is made without the store's lock; the lock is held only
while the doomed runs are renamed out of runs/ (each checked again against the
champions then), and their files are removed after it is released. Never deleted:

- the newest `keep` complete runs (so never the run just completed: it is the newest);
- the run of the champion and of every earlier one (champion.json, champion-history.jsonl);
- a running run, in staging or already in runs/ (its process holds its running mark).

If the champion files cannot be read, nothing is deleted (StateFileError).
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from imbalance.store.commit import reached
from imbalance.store.runs import ArtifactStore

__all__ = [
    "RetentionPlan",
    "RetentionResult",
    "RunSize",
    "apply",
    "enforce",
    "plan",
    "protected_runs",
]

_DAY = 86_400
STEPS = ("retention renamed", "retention removed")  # where the kill test stops it
# A staging folder exists a moment before its run takes its running mark: the flow's
# retention (another run's process) never deletes one younger than this, whatever
# staging_days says (0 included). `imbalance prune` is a deliberate act: it does.
MIN_STAGING_AGE = 600


@dataclass(frozen=True)
class RunSize:
    """One run's id and the bytes its folder holds."""

    run_id: str
    bytes: int


@dataclass(frozen=True)
class RetentionPlan:
    """What `apply` would delete: complete runs, stale staging runs; and what it keeps."""

    runs: tuple[RunSize, ...]  # complete runs, newest first
    staging: tuple[RunSize, ...]  # failed or killed runs in staging, oldest first
    protected: frozenset[str]  # the champions' runs, never deleted
    kept: int  # complete runs left once `runs` are gone

    @property
    def freed(self) -> int:
        return sum(r.bytes for r in (*self.runs, *self.staging))


@dataclass(frozen=True)
class RetentionResult:
    """What `apply` deleted, what it skipped (gone meanwhile, running, now protected)."""

    runs: tuple[RunSize, ...]
    staging: tuple[RunSize, ...]
    skipped: tuple[str, ...]
    protected: frozenset[str]
    kept: int  # complete runs left

    @property
    def deleted(self) -> int:
        return len(self.runs) + len(self.staging)

    @property
    def freed(self) -> int:
        return sum(r.bytes for r in (*self.runs, *self.staging))

    def summary(self) -> str:
        """Return one line for the log: what went, what stayed."""
        skipped = f"; skipped (gone or in use): {', '.join(self.skipped)}" if self.skipped else ""
        if not self.deleted:
            return f"retention: nothing to delete{skipped}"
        runs = f"{self.deleted} run" + ("" if self.deleted == 1 else "s")
        note = f"; champions' runs kept: {', '.join(sorted(self.protected))}"
        return (
            f"retention: deleted {runs} ({size_text(self.freed)}), "
            f"kept {self.kept} complete runs{note if self.protected else ''}{skipped}"
        )


def protected_runs(artifacts: ArtifactStore) -> set[str]:
    """Return the runs of the champion and of every earlier one.

    Raises StateFileError if champion.json or the history cannot be read: the
    caller must then delete nothing (any run might be a champion's).
    """
    champion = artifacts.champion()
    history = artifacts.champion_history()
    # Also the champions each promotion replaced ("RUN/VARIANT"): a history line that
    # could not be written must not leave a former champion unprotected.
    previous = {e.previous_run_id for e in history if e.previous_run_id}
    return {e.run_id for e in history} | previous | ({champion.run_id} if champion else set())


def plan(
    artifacts: ArtifactStore,
    keep: int | None,
    staging_days: float | None,
    min_staging_age: float = 0.0,
) -> RetentionPlan:
    """Return the runs to delete: all complete runs but the newest `keep`, and stale staging.

    `keep` None or 0 keeps every complete run; `staging_days` None keeps every
    staging run, else those untouched for that many days go, but never one younger
    than `min_staging_age` seconds (the flow's own retention: see MIN_STAGING_AGE).
    Never a protected run, never a running one. Raises StateFileError if the
    champions are unknown, ValueError for a negative `keep` or `staging_days`.
    """
    if keep is not None and keep < 0:
        raise ValueError(f"keep must be 0 (keep all) or more, got {keep}")
    if staging_days is not None and staging_days < 0:
        raise ValueError(f"staging_days must be 0 or more, got {staging_days}")
    protected = protected_runs(artifacts)
    run_ids = artifacts.run_ids()  # newest first
    doomed = [
        r
        for r in (run_ids[keep:] if keep else [])
        if r not in protected and not artifacts.is_running(r)
    ]
    stale = []
    if staging_days is not None:
        stale = [
            r
            for r in artifacts.stale_unfinished_run_ids(max(staging_days * _DAY, min_staging_age))
            if r not in protected
        ]
    return RetentionPlan(
        runs=tuple(RunSize(r, _size(artifacts.runs_dir / r)) for r in doomed),
        staging=tuple(RunSize(r, _size(artifacts.staging_dir / r)) for r in stale),
        protected=frozenset(protected),
        kept=len(run_ids) - len(doomed),
    )


def apply(artifacts: ArtifactStore, plan: RetentionPlan) -> RetentionResult:
    """Delete the runs of `plan`; return what went and the bytes freed.

    Under the store's lock (re-entrant: a caller may hold it already) each run is
    checked again and renamed out of the way: a plan made before the lock may be
    stale, so the champions are re-read (StateFileError: nothing deleted), a run
    that is protected or running now is skipped, and so is one already gone. The
    files go once the lock is released: one slow delete blocks no promotion.
    """
    skipped: list[str] = []
    trash = []
    with artifacts.locked():
        protected = protected_runs(artifacts)

        def discard(runs: tuple[RunSize, ...], complete: bool) -> tuple[RunSize, ...]:
            done = []
            for run in runs:
                if run.run_id in protected or artifacts.is_running(run.run_id):
                    skipped.append(run.run_id)
                    continue
                try:
                    trash.append(artifacts.discard_run(run.run_id, complete))
                except FileNotFoundError:  # deleted meanwhile (outside the lock, by hand)
                    skipped.append(run.run_id)
                    continue
                done.append(run)
            return tuple(done)

        runs = discard(plan.runs, complete=True)
        staging = discard(plan.staging, complete=False)
        kept = len(artifacts.run_ids())
    reached("retention renamed")
    for folder in sorted({*trash, *artifacts.trash_folders()}):  # and any a kill left
        shutil.rmtree(folder, ignore_errors=True)
    reached("retention removed")
    return RetentionResult(
        runs=runs,
        staging=staging,
        skipped=tuple(skipped),
        protected=frozenset(protected),
        kept=kept,
    )


def enforce(
    artifacts: ArtifactStore, keep: int | None, staging_days: float | None
) -> RetentionResult:
    """Plan, apply: the one call the flow makes once a run has moved into runs/.

    The run just completed is the newest, so any `keep` of 1 or more keeps it
    (0 or None keeps every complete run); it is also still marked running.
    """
    return apply(artifacts, plan(artifacts, keep, staging_days, MIN_STAGING_AGE))


def size_text(n: float) -> str:
    """Return a byte count as a short human-readable size (as `imbalance` prints them)."""
    for unit in ("B", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _size(root: Path) -> int:
    """Return the bytes of the files under `root` (0 for any that vanish meanwhile)."""
    total = 0
    for path in root.rglob("*"):
        with contextlib.suppress(FileNotFoundError):
            if path.is_file():
                total += path.stat().st_size
    return total
