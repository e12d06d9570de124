"""A change of champion in one step: a write-ahead record, then the pointers, then done.

A promotion changes three things: the run moves into runs/ (its report says
"Promoted"), champion.json names it, the history gains a line. No kill may leave
some done and others not, so under the store's lock:

  1. commit.json is written (atomically): from here on the promotion has happened;
  2. the run is moved into runs/, champion.json written, the history line appended,
     latest.json moved forward;
  3. commit.json is removed.

Whoever takes the lock next (a run, a rollback, `imbalance verify`, a reader of the
champion) finds a commit.json left by a killed process and completes its steps
first (`recover`): each is done only if not done yet, so recovering twice is
harmless. A commit.json that cannot be read stops every change of the pointers
with one line naming it (fail closed), rather than guessing.

A live failure to write champion.json (a full disk, a read-only folder) is undone
instead: the run goes back to staging and commit.json is removed, so the caller
can record "not promoted" and complete the run without the promotion.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from typing import Any, Protocol

from imbalance.messages import first_line
from imbalance.store.files import fsync_dir, read_json, write_json
from imbalance.store.layout import RunPaths, StoreLayout, is_run_id
from imbalance.store.pointers import drop_torn_history_line, raw, read_champion, read_history
from imbalance.store.records import SCHEMA_VERSION, ChampionRecord, HistoryEntry, StateFileError

# The steps of a promotion, in order; `reached` is called after each.
STEPS = (
    "journal written",
    "run moved",
    "champion written",
    "history appended",
    "latest written",
    "journal removed",
)
KILL_AT = "IMBALANCE_KILL_AT"  # the kill test's failpoint (tests/unit/test_kill_between_steps.py)


def reached(step: str) -> None:
    """Mark a step of completing a run as done; the kill test SIGKILLs the process here.

    Only when the environment names this step (`IMBALANCE_KILL_AT`): the test then
    checks that what is on disk still agrees, and that the next reader recovers.
    """
    if os.environ.get(KILL_AT) == step:
        os.kill(os.getpid(), signal.SIGKILL)


class ArtifactStore(Protocol):
    """What a commit needs of the store (imbalance.store.runs.ArtifactStore)."""

    root: Any
    champion_file: Any
    history_file: Any
    journal_file: Any

    def locked(self) -> Any: ...
    def staged(self, run_id: str) -> RunPaths: ...
    def complete(self, run_id: str) -> RunPaths: ...
    def set_champion(self, record: ChampionRecord) -> None: ...
    def append_history(self, entry: HistoryEntry) -> None: ...
    def update_latest(self, run_id: str) -> None: ...


class ChampionNotWritten(OSError):
    """champion.json could not be written; the promotion was undone (run back in staging)."""

    def __init__(self, error: OSError):
        super().__init__(error.errno, first_line(error))
        self.error = error


@dataclass(frozen=True)
class CommitRecord:
    """commit.json: the promotion under way, enough to complete it after a kill."""

    run_id: str | None  # the run moving from staging into runs/ (None: a rollback)
    champion: ChampionRecord
    entry: HistoryEntry
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "run_id": self.run_id,
            "champion": self.champion.to_json(),
            "entry": self.entry.to_json(),
        }

    @classmethod
    def read(cls, layout: StoreLayout) -> CommitRecord:
        path = layout.journal_file
        try:
            data = read_json(path)
            run_id = data["run_id"]
            if run_id is not None and not is_run_id(run_id):
                raise ValueError(f"run_id {run_id!r} names no run")
            return cls(
                run_id,
                ChampionRecord.from_json(data["champion"], f"{path}'s champion"),
                HistoryEntry.from_json(data["entry"], f"{path}'s history entry"),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StateFileError(
                f"{path}: an interrupted promotion cannot be read ({first_line(exc)}); "
                "nothing changes the champion until it is removed by hand"
            ) from None


def commit(
    store: ArtifactStore,
    run: RunPaths | None,
    promotion: tuple[ChampionRecord, HistoryEntry] | None,
    expected: bytes | None,
) -> RunPaths | None:
    """Move `run` (if any) into runs/ and apply `promotion` (if any) as one step.

    `expected`: champion.json's bytes when the promotion was decided; if they differ
    now, nothing is done and None is returned (the caller settles again). Returns
    the run's final paths (None for a rollback, which moves no run).
    """
    with store.locked():  # which first completes any commit a killed process left
        if promotion is not None and raw(store.champion_file) != expected:
            return None
        if promotion is None:
            final = _move(store, run) if run is not None else None
            reached("run moved")
            if final is not None:
                store.update_latest(final.run_id)
            reached("latest written")
            return final
        journal = CommitRecord(run.run_id if run else None, *promotion)
        write_json(store.journal_file, journal.to_json())
        reached("journal written")
        final = None
        try:
            final = _move(store, run) if run is not None else None
            reached("run moved")
            store.set_champion(journal.champion)
        except OSError as exc:
            _undo(store, journal, final if run is not None else None)
            if run is not None and final is None:
                raise  # the move itself failed: nothing to say "not promoted" about
            raise ChampionNotWritten(exc) from None
        reached("champion written")
        _finish(store, journal)
    return final


def recover(store: ArtifactStore) -> None:
    """Complete the commit a killed process left in commit.json (nothing if none).

    Called with the lock held (every `locked()` calls it first). Raises
    StateFileError, one line, if commit.json is unreadable or its run is gone.
    """
    if not store.journal_file.exists():
        return
    journal = CommitRecord.read(store)
    if journal.run_id is not None:
        staged, final = store.staged(journal.run_id).root, store.complete(journal.run_id).root
        if staged.is_dir() and not final.exists():
            os.replace(staged, final)
            fsync_dir(final.parent)
        elif not final.is_dir():
            raise StateFileError(
                f"{store.journal_file}: the run {journal.run_id} it promotes is in neither "
                "runs/ nor .staging/; champion.json is left as it is (remove commit.json by hand)"
            )
    try:
        current = read_champion(store)
    except StateFileError:
        current = None  # damaged: what a rollback repairs
    if current != journal.champion:
        store.set_champion(journal.champion)
    _finish(store, journal)


def _finish(store: ArtifactStore, journal: CommitRecord) -> None:
    """The steps after champion.json: the history line, latest.json, commit.json removed."""
    # A history line that cannot be written does not undo the promotion (it has taken
    # effect); `imbalance verify all` names a promotion missing from the history.
    with contextlib.suppress(OSError):
        drop_torn_history_line(store)
        try:
            done = read_history(store)[-1:] == [journal.entry]
        except StateFileError:
            done = False  # a damaged line before: append regardless, as always
        if not done:
            store.append_history(journal.entry)
    reached("history appended")
    if journal.run_id is not None:
        store.update_latest(journal.run_id)
    reached("latest written")
    store.journal_file.unlink()
    fsync_dir(store.root)
    reached("journal removed")


def _move(store: ArtifactStore, run: RunPaths) -> RunPaths:
    final = store.complete(run.run_id)
    final.root.parent.mkdir(parents=True, exist_ok=True)
    os.replace(run.root, final.root)
    fsync_dir(final.root.parent)
    return final


def _undo(store: ArtifactStore, journal: CommitRecord, moved: RunPaths | None) -> None:
    """Take a promotion back before champion.json changed: the run to staging, no journal.

    Renames and an unlink need no space. If even they fail, commit.json stays and
    the next lock holder completes the promotion, which the run's report describes.
    """
    if moved is not None:
        os.replace(moved.root, store.staged(moved.run_id).root)
    store.journal_file.unlink()
