"""`imbalance champion`: the current champion, every change of it, and a rollback."""

from __future__ import annotations

import argparse

from cli.errors import UserError
from cli.inspect import add_artifacts_dir, table
from imbalance.store import (
    ArtifactStore,
    ChampionRecord,
    GateScore,
    HistoryEntry,
    StateFileError,
)
from imbalance.store.pointers import now


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "champion",
        help="show the champion and its history; roll back to an earlier one",
        description="Show the current champion and every change of it (champion-history.jsonl), "
        "numbered oldest first. --rollback N makes entry N's model the champion again, once it "
        "checks against its run's manifest.",
    )
    parser.add_argument(
        "--rollback", type=int, metavar="N", help="make history entry N the champion again"
    )
    add_artifacts_dir(parser)
    parser.set_defaults(handler=handle)


def _history(artifacts: ArtifactStore) -> list[HistoryEntry]:
    try:
        return artifacts.champion_history()
    except StateFileError as exc:
        raise UserError(str(exc)) from None


def _score(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def history_table(entries: list[HistoryEntry], current: ChampionRecord | None) -> str:
    """Return the history as a table, oldest first, the entry now in force starred."""
    rows = []
    for number, e in enumerate(entries, 1):
        holds = current is not None and (e.run_id, e.variant) == (current.run_id, current.variant)
        rows.append(
            [
                str(number),
                (e.when or "-").replace("T", " ").removesuffix("+00:00"),
                e.action,
                f"{e.run_id}/{e.variant}",
                f"{e.metric or '-'} {_score(e.score)}",
                e.previous or "-",
                "*" if holds and number == _last_for(entries, current) else "",
            ]
        )
    return table(rows, ["#", "WHEN (UTC)", "ACTION", "CHAMPION", "SCORE", "REPLACED", "NOW"])


def _last_for(entries: list[HistoryEntry], current: ChampionRecord) -> int:
    """Return the number of the newest entry that names the current champion."""
    numbers = [
        n
        for n, e in enumerate(entries, 1)
        if (e.run_id, e.variant) == (current.run_id, current.variant)
    ]
    return numbers[-1] if numbers else 0


def handle(args: argparse.Namespace) -> int:
    artifacts = ArtifactStore(args.artifacts_dir)
    if args.rollback is not None:
        return rollback(artifacts, args.rollback)
    try:
        current = artifacts.champion()
    except StateFileError as exc:
        current = None
        print(f"champion: {exc} (`imbalance champion --rollback N` rewrites it)")
    if current:
        print(
            f"champion: {current.holder} ({current.metric or '-'} {_score(current.score)}, "
            f"since {current.when or '-'})"
        )
    elif not artifacts.champion_file.exists():
        print("champion: none yet")
    entries = _history(artifacts)
    if entries:
        print("\nhistory (oldest first):")
        print(history_table(entries, current))
    try:
        scores = artifacts.champion_scores()
    except StateFileError as exc:
        raise UserError(str(exc)) from None
    if scores:
        print("\ntrack record: the champion and the candidate on each night's gate rows:")
        print(scores_table(scores[-TRACK_SHOWN:]))
        if len(scores) > TRACK_SHOWN:
            print(f"(the last {TRACK_SHOWN} of {len(scores)} nights: {artifacts.scores_file})")
    return 0


TRACK_SHOWN = 14  # nights of the track record shown; the file has them all


def scores_table(scores: list[GateScore]) -> str:
    """Return the track record as a table, oldest first."""
    rows = [
        [
            (s.as_of or s.when or "-").replace("T", " ").removesuffix("+00:00"),
            s.run_id,
            s.champion,
            f"{s.metric} {_score(s.champion_score)}",
            _score(s.candidate_score),
            f"{s.gate_positives if s.gate_positives is not None else '-'}",
            f"promoted ({s.rule})" if s.promoted else (s.rule or "kept"),
        ]
        for s in scores
    ]
    header = ["AS OF", "NIGHT'S RUN", "CHAMPION", "CHAMPION SCORE", "CANDIDATE", "POS", "OUTCOME"]
    return table(rows, header)


def rollback(artifacts: ArtifactStore, number: int) -> int:
    """Make history entry `number` the champion again, in one step (imbalance.store.commit)."""
    if not artifacts.root.is_dir():
        raise UserError(f"no artifacts folder {artifacts.root}: nothing to roll back")
    with artifacts.locked():  # first: a store that cannot be changed says so at once
        entries = _history(artifacts)
    if not 1 <= number <= len(entries):
        raise UserError(f"--rollback {number}: the history has entries 1 to {len(entries)}")
    entry = entries[number - 1]
    # Checked outside the lock: a run named in the history is never deleted, and a
    # complete run's files do not change (`imbalance verify` says if they did).
    problem = artifacts.model_problem(entry.run_id, entry.variant)
    if problem:
        raise UserError(f"cannot roll back to entry {number}: {problem}")
    record = ChampionRecord(entry.run_id, entry.variant, entry.metric, entry.score, now())
    reason = f"rolled back by hand to history entry {number}"
    artifacts.change_champion(record, "rollback", reason)
    print(f"champion: {entry.run_id}/{entry.variant} again ({reason})")
    return 0
