"""The runs under one artifacts folder: staging, completing, finding, trusting, deleting."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from imbalance.messages import first_line
from imbalance.store import commit, pointers
from imbalance.store.files import file_digest, list_files, read_json, write_json
from imbalance.store.layout import MANIFEST, RunPaths, StoreLayout
from imbalance.store.lock import holds, is_marked, running_mark, store_lock
from imbalance.store.records import (
    ChampionRecord,
    GateScore,
    HistoryEntry,
    RunRecord,
    StateFileError,
)


class RunNotFoundError(LookupError):
    """A run reference (id, `latest`, `champion`) that names no complete run."""


class ArtifactStore(StoreLayout):
    """The runs under one artifacts folder and the pointers that name some of them."""

    # --- building a run ---------------------------------------------------------------

    def start_run(self, run_id: str) -> RunPaths:
        """Create and return the staging folder of a new run."""
        if (self.runs_dir / run_id).exists() or (self.staging_dir / run_id).exists():
            raise FileExistsError(f"run {run_id} already exists under {self.root}")
        run = self.staged(run_id)
        run.root.mkdir(parents=True)
        return run

    def manifest_files(self, run: RunPaths) -> dict[str, dict[str, Any]]:
        """Return the sha256 and size of every file of `run`, keyed by relative path."""
        return {str(rel): file_digest(run.root / rel) for rel in list_files(run.root)}

    def write_manifest(self, run: RunPaths, record: RunRecord) -> None:
        """Write `record` with the digest of every file of `run` (written last; no lock)."""
        files = self.manifest_files(run)
        write_json(run.manifest, replace(record, files=files).to_json())

    def complete_run(
        self,
        run: RunPaths,
        record: RunRecord,
        promotion: tuple[ChampionRecord, HistoryEntry] | None = None,
        expected: bytes | None = None,
    ) -> RunPaths | None:
        """Write the manifest, then move the run into runs/ (and promote it) as one step.

        The digests are taken outside the lock; see `imbalance.store.commit` for the
        step itself. None: the champion is no longer `expected` (nothing was done).
        """
        shutil.rmtree(run.scratch, ignore_errors=True)
        self.write_manifest(run, record)
        commit.reached("manifest written")
        return commit.commit(self, run, promotion, expected)

    def fail_run(self, run: RunPaths, record: RunRecord) -> None:
        """Leave a failed run in staging with a manifest that says why."""
        if run.root.exists():
            write_json(run.manifest, record.to_json())

    # --- the lock and the pointers ----------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock; a commit a killed process left is completed first."""
        with store_lock(self.root, self.lock_file, lambda: commit.recover(self)):
            yield

    def recover(self) -> None:
        """Complete a promotion a killed process left half done; StateFileError if it cannot.

        Cheap when there is none (one stat). A reader calls it before trusting what
        runs/ and champion.json say; a writer's `locked()` always does.
        """
        if not self.journal_file.exists() or holds(self.root):
            return
        try:
            with self.locked():
                pass
        except OSError as exc:  # a read-only copy of the store, say
            raise StateFileError(
                f"{self.journal_file}: an interrupted promotion cannot be completed here "
                f"({first_line(exc)}); nothing is trusted until it is"
            ) from None

    def update_latest(self, run_id: str) -> None:
        with self.locked():
            pointers.update_latest(self, run_id)

    def latest_run_id(self) -> str | None:
        """Return the newest complete run on disk (run ids sort by time), not latest.json's."""
        return next(iter(self.run_ids()), None)

    def champion(self) -> ChampionRecord | None:
        """Return the champion record, None before the first promotion.

        Raises StateFileError if champion.json exists but cannot be read: callers
        must not mistake a damaged record for "no champion" (that would promote).
        """
        self.recover()
        return pointers.read_champion(self)

    def champion_bytes(self) -> bytes | None:
        """Return champion.json as it is on disk (None: absent), for a compare-and-set."""
        self.recover()
        return pointers.raw(self.champion_file)

    def set_champion(self, record: ChampionRecord) -> None:
        pointers.write_champion(self, record)

    def append_history(self, entry: HistoryEntry) -> None:
        pointers.append_history(self, entry)

    def append_score(self, entry: GateScore) -> None:
        pointers.append_score(self, entry)

    def champion_scores(self) -> list[GateScore]:
        """Return the champion's track record on each night's gate rows, oldest first."""
        return pointers.read_scores(self)

    def champion_history(self) -> list[HistoryEntry]:
        """Return the champion history, oldest first (an unreadable line raises StateFileError)."""
        self.recover()
        return pointers.read_history(self)

    def change_champion(self, record: ChampionRecord, action: str, reason: str) -> None:
        """Make `record` the champion and say so in the history, as one step (a rollback).

        The champion it replaces is read under the lock; a damaged champion.json (what
        a rollback repairs) is replaced by nobody's.
        """
        with self.locked():
            try:
                previous = pointers.read_champion(self)
            except StateFileError:
                previous = None
            entry = HistoryEntry.of(action, record, previous, reason)
            commit.commit(self, None, (record, entry), pointers.raw(self.champion_file))

    def state_problems(self) -> list[str]:
        """Return one line per damaged shared state file (commit, latest, champion)."""
        try:
            self.recover()
        except StateFileError as exc:
            return [str(exc)]
        problems = []
        try:
            pointers.read_latest(self)
        except StateFileError as exc:
            problems.append(str(exc))
        try:
            record = pointers.read_champion(self)
        except StateFileError as exc:
            problems.append(str(exc))
        else:
            problem = record and self.model_problem(record.run_id, record.variant)
            if problem:
                problems.append(
                    f"{self.champion_file} names {record.holder}, whose model cannot be used: "
                    f"{problem}"
                )
        return problems

    # --- finding and trusting runs ----------------------------------------------------

    def run(self, ref: str) -> RunPaths:
        """Return the complete run named by an id, `latest` or `champion`."""
        run_id: str | None = ref
        if ref == "latest":
            run_id = self.latest_run_id()
        elif ref == "champion":
            record = self.champion()
            run_id = record.run_id if record else None
        if not run_id or not (self.runs_dir / run_id / MANIFEST).is_file():
            known = "; known runs: " + ", ".join(self.run_ids()[:5]) if self.run_ids() else ""
            raise RunNotFoundError(f"no complete run {ref!r} under {self.root}{known}")
        return self.complete(run_id)

    def manifest(self, ref: str) -> RunRecord:
        """Return the manifest of a complete run (StateFileError if it cannot be read)."""
        return read_record(self.run(ref).manifest)

    def model_problem(self, run_id: str, variant: str) -> str | None:
        """Return why run `run_id`'s model `variant` cannot be trusted, or None if it can.

        Trusted: the run is complete, its manifest readable, and the model file's
        sha256 and size are those the manifest recorded.
        """
        try:
            run = self.run(run_id)
        except RunNotFoundError:
            return f"its run {run_id} is not a complete run"
        try:
            recorded = read_json(run.manifest)["files"][run.model_key(variant)]
        except KeyError:
            return f"its run's manifest lists no model {variant!r}"
        except (OSError, ValueError, TypeError) as exc:
            return f"its run's manifest is unreadable ({first_line(exc)})"
        path = run.model(variant)
        if not path.is_file():
            return f"its model file {path} is missing"
        if file_digest(path) != recorded:
            return f"its model file {path} differs from its manifest (sha256)"
        return None

    # --- running, unfinished and deleted runs -----------------------------------------

    @contextlib.contextmanager
    def running(self, run: RunPaths) -> Iterator[None]:
        """Mark `run` as running for as long as the block lasts (its process holds the mark)."""
        with running_mark(self.running_mark(run.run_id)):
            yield

    def is_running(self, run_id: str) -> bool:
        """Return whether a process still holds run `run_id`'s running mark."""
        return is_marked(self.running_mark(run_id))

    def stale_unfinished_run_ids(self, older_than_seconds: float) -> list[str]:
        """Return staged runs (failed or killed) untouched for `older_than_seconds`, oldest first.

        Never a running one: its process holds its running mark (`running`).
        Untouched: no file in the folder changed since.
        """
        cutoff = datetime.now(UTC).timestamp() - older_than_seconds
        stale = []
        for run_id in reversed(self.unfinished_run_ids()):
            if self.is_running(run_id):
                continue
            root = self.staging_dir / run_id
            times = [p.stat().st_mtime for p in (root, *root.rglob("*"))]
            if max(times) < cutoff:
                stale.append(run_id)
        return stale

    def discard_run(self, run_id: str, complete: bool) -> Path:
        """Rename a run out of runs/ (or staging) into the trash, at once; return the trash.

        The caller (retention, under the lock) removes the trash's files afterwards,
        outside the lock; a kill in between leaves a trash folder the next prune removes.
        """
        source = (self.runs_dir if complete else self.staging_dir) / run_id
        trash = self.trash(run_id)
        trash.parent.mkdir(parents=True, exist_ok=True)
        source.rename(trash)
        if not complete:
            self.running_mark(run_id).unlink(missing_ok=True)
        return trash

    def delete_run(self, run_id: str) -> None:
        """Remove a complete run: renamed out of `runs/` first, so it vanishes at once."""
        shutil.rmtree(self.discard_run(run_id, complete=True))

    def delete_unfinished_run(self, run_id: str) -> None:
        """Remove a staged (failed or killed) run's folder and its running mark."""
        shutil.rmtree(self.discard_run(run_id, complete=False))


def read_record(path: Path) -> RunRecord:
    """Return the run record (manifest) at `path`; StateFileError names what is wrong."""
    try:
        data = read_json(path)
    except (OSError, ValueError) as exc:
        raise StateFileError(f"{path} is unreadable: {first_line(exc)}") from None
    return RunRecord.from_json(data, path)
