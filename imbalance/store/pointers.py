"""The shared pointers: champion.json, the champion history, latest.json.

Plain reads and writes of each file; changing them together, under the lock and as
one step, is `imbalance.store.commit`'s job.
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from imbalance.messages import first_line
from imbalance.store.files import read_json, write_json
from imbalance.store.layout import StoreLayout, is_run_id
from imbalance.store.records import ChampionRecord, GateScore, HistoryEntry, StateFileError


def raw(path: Path) -> bytes | None:
    """Return a file's bytes, None if it does not exist (what a compare-and-set compares)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def parse_champion(content: bytes | None, path: Path) -> ChampionRecord | None:
    """Return the champion record in `content` (None: no champion), or raise StateFileError."""
    if content is None:
        return None
    try:
        data = json.loads(content)
    except ValueError as exc:
        raise StateFileError(f"{path} is unreadable: {first_line(exc)}") from None
    return ChampionRecord.from_json(data, path)


def read_champion(layout: StoreLayout) -> ChampionRecord | None:
    try:
        content = raw(layout.champion_file)
    except OSError as exc:
        raise StateFileError(f"{layout.champion_file} is unreadable: {first_line(exc)}") from None
    return parse_champion(content, layout.champion_file)


def write_champion(layout: StoreLayout, record: ChampionRecord) -> None:
    write_json(layout.champion_file, record.to_json())


def append_history(layout: StoreLayout, entry: HistoryEntry) -> None:
    """Append one line to the champion history and flush it to disk."""
    _append_line(layout, layout.history_file, entry.to_json())


def append_score(layout: StoreLayout, entry: GateScore) -> None:
    """Append one night's line to the champion's track record and flush it to disk."""
    _append_line(layout, layout.scores_file, entry.to_json())


def read_scores(layout: StoreLayout) -> list[GateScore]:
    """Return the champion's track record, oldest first; a torn or damaged line is skipped.

    A record of what was measured, not a pointer anything relies on: a line a kill cut
    short is left out rather than failing the commands that show it.
    """
    try:
        lines = layout.scores_file.read_text().splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StateFileError(f"{layout.scores_file} is unreadable: {first_line(exc)}") from None
    entries = []
    for number, line in enumerate(lines, 1):
        try:
            entries.append(GateScore.from_json(json.loads(line), f"line {number}"))
        except (ValueError, StateFileError):
            continue
    return entries


def _append_line(layout: StoreLayout, path: Path, data: dict) -> None:
    layout.root.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fh.write(json.dumps(data, default=str) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def drop_torn_history_line(layout: StoreLayout) -> None:
    """Cut a last line a kill left half written (only a commit being recovered may)."""
    try:
        content = layout.history_file.read_bytes()
    except FileNotFoundError:
        return
    if content and not content.endswith(b"\n"):
        with open(layout.history_file, "r+b") as fh:
            fh.truncate(content.rfind(b"\n") + 1)
            os.fsync(fh.fileno())


def read_history(layout: StoreLayout) -> list[HistoryEntry]:
    """Return the champion history, oldest first (an unreadable line raises StateFileError)."""
    path = layout.history_file
    if not path.is_file():
        return []
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise StateFileError(f"{path}: line {number} is unreadable: {exc}") from None
        entries.append(HistoryEntry.from_json(data, f"{path}: line {number}"))
    return entries


def read_latest(layout: StoreLayout) -> str | None:
    """Return the run latest.json names (None if absent), or raise StateFileError."""
    path = layout.latest_file
    try:
        record = read_json(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StateFileError(f"{path} is unreadable: {first_line(exc)}") from None
    if not isinstance(record, dict) or not is_run_id(record.get("run_id")):
        raise StateFileError(f"{path} is damaged: it names no run")
    return record["run_id"]


def update_latest(layout: StoreLayout, run_id: str) -> None:
    """Point latest.json at the newest complete run; a failure to write it is not fatal.

    latest.json is a convenience for other tools: readers here take the newest run
    on disk, so a full disk here costs nothing but the file. It only ever moves
    forward (a slow run finishing late must not hide a newer one); a lost or
    unreadable one is rebuilt from the runs on disk. The caller holds the lock.
    """
    with contextlib.suppress(OSError):
        try:
            current = read_latest(layout)
        except StateFileError:
            current = None
        if current is None or not (layout.runs_dir / current).is_dir():
            run_id = max(run_id, *layout.run_ids())
        elif run_id < current:
            return
        write_json(layout.latest_file, {"run_id": run_id, "updated": now()})


def now() -> str:
    """Return the time as the pointers record it (UTC, ISO 8601, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")
