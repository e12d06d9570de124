"""The store's records: what a run learnt while staged, its manifest, champion.json, history.

Each is a frozen dataclass; its JSON on disk is written from it (`to_json`) and read
back into it (`from_json`), which checks the fields it relies on and names the file
when they are wrong. Every record carries a `schema_version`; files written before
there was one (the store of issue 20 and earlier) read as version 1, whose fields
are the same. A version newer than this code knows is refused, never guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from imbalance.selection.decision import Decision
from imbalance.selection.records import RecordError
from imbalance.store.layout import is_run_id

SCHEMA_VERSION = 2  # 1: written before records carried a version (same fields)


class StateFileError(ValueError):
    """A record of the store cannot be read or says nothing usable; one line says why."""


@dataclass(frozen=True)
class RunFacts:
    """What a run learns about itself while staged (its manifest records each one)."""

    counts: dict[str, Any] = field(default_factory=dict)  # rows of each split
    as_of: str | None = None  # the as-of time of its data (ISO 8601, with offset)
    data: dict[str, Any] | None = None  # the data's provenance, spec and preprocessing
    trained_on: dict[str, Any] | None = None  # the Dask cluster, when one trained it
    thresholds: dict[str, float] | None = None  # each variant's chosen threshold
    drift: dict[str, Any] | None = None  # the drift record against the champion's data
    parts: dict[str, Any] | None = None  # each part's rows and row-key digest; the gate rule

    def to_json(self) -> dict[str, Any]:
        """Return the facts as manifest keys (a fact not learnt is left out)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v for k, v in out.items() if v is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any], where: Path | str) -> RunFacts:
        for name in ("counts", "data", "trained_on", "thresholds", "drift", "parts"):
            if data.get(name) is not None and not isinstance(data[name], dict):
                raise StateFileError(f"{where} is damaged: its {name} is not an object")
        if data.get("as_of") is not None and not isinstance(data["as_of"], str):
            raise StateFileError(f"{where} is damaged: its as_of is not text")
        return cls(**{f.name: data.get(f.name) for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class RunRecord:
    """A run's manifest: how it was made, what it learnt, the decision, its files' digests."""

    run_id: str
    status: str  # "completed" or "failed"
    started: str | None = None
    ended: str | None = None
    duration_seconds: float | None = None
    config: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str | None] = field(default_factory=dict)
    git_commit: str | None = None
    facts: RunFacts = field(default_factory=RunFacts)
    champion: Decision | None = None  # the champion decision, once it took effect
    error: str | None = None  # why a failed run failed
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # path: {sha256, bytes}
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema_version": self.schema_version,
            "run_id": self.run_id,
            "status": self.status,
            "started": self.started,
            "ended": self.ended,
            "duration_seconds": self.duration_seconds,
            "config": self.config,
            "versions": self.versions,
            "git_commit": self.git_commit,
            **self.facts.to_json(),
        }
        if self.champion is not None:
            out["champion"] = self.champion.to_json()
        if self.error is not None:
            out["error"] = self.error
        if self.files:
            out["files"] = self.files
        return out

    @classmethod
    def from_json(cls, data: Any, where: Path | str) -> RunRecord:
        """Return the record of a manifest's JSON; StateFileError names what is wrong."""
        version = _version(data, where)
        if not isinstance(data.get("run_id"), str) or not isinstance(data.get("status"), str):
            raise StateFileError(f"{where} is damaged: it needs a run_id and a status")
        files = data.get("files", {})
        if not isinstance(files, dict) or not all(
            isinstance(f, dict)
            and isinstance(f.get("sha256"), str)
            and isinstance(f.get("bytes"), int)
            for f in files.values()
        ):
            raise StateFileError(f"{where} is damaged: no list of files with sha256 and bytes")
        for name in ("config", "versions"):
            if not isinstance(data.get(name, {}), dict):
                raise StateFileError(f"{where} is damaged: its {name} is not an object")
        champion = data.get("champion")
        try:
            decision = None if champion is None else Decision.from_json(champion)
        except (RecordError, TypeError, ValueError) as exc:
            raise StateFileError(f"{where} is damaged: its champion decision ({exc})") from None
        return cls(
            run_id=data["run_id"],
            status=data["status"],
            started=data.get("started"),
            ended=data.get("ended"),
            duration_seconds=data.get("duration_seconds"),
            config=data.get("config", {}),
            versions=data.get("versions", {}),
            git_commit=data.get("git_commit"),
            facts=RunFacts.from_json(data, where),
            champion=decision,
            error=data.get("error"),
            files=files,
            schema_version=version,
        )

    @property
    def claims_promotion(self) -> tuple[str, str] | None:
        """Return (run id, variant) if the run's decision says it was promoted, else None."""
        decision = self.champion
        if decision is not None and decision.promoted and decision.candidate is not None:
            return self.run_id, decision.candidate.variant
        return None


@dataclass(frozen=True)
class ChampionRecord:
    """champion.json: the model `predict` uses and the next run must beat."""

    run_id: str
    variant: str
    metric: str | None = None
    score: float | None = None
    when: str | None = None
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def from_decision(cls, decision: Decision, when: str) -> ChampionRecord:
        """Return the record a promoting decision makes (its candidate, metric and score)."""
        candidate = decision.candidate
        if candidate is None:
            raise ValueError("a decision without a candidate promotes nothing")
        return cls(candidate.run_id, candidate.variant, decision.metric, candidate.score, when)

    @property
    def holder(self) -> str:
        return f"{self.run_id}/{self.variant}"

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Any, where: Path | str) -> ChampionRecord:
        if not isinstance(data, dict) or not is_run_id(data.get("run_id")):
            raise StateFileError(f"{where} is damaged: it names no run")
        version = _version(data, where)
        if not is_run_id(data.get("run_id")):
            raise StateFileError(f"{where} is damaged: it names no run")
        if not isinstance(data.get("variant"), str):
            raise StateFileError(f"{where} is damaged: it names no variant")
        return cls(
            data["run_id"],
            data["variant"],
            data.get("metric"),
            data.get("score"),
            data.get("when"),
            version,
        )


@dataclass(frozen=True)
class HistoryEntry:
    """One line of champion-history.jsonl: who took over from whom, when and why."""

    action: str  # "promote" or "rollback"
    run_id: str
    variant: str
    when: str | None = None
    metric: str | None = None
    score: float | None = None
    previous: str | None = None  # "RUN/VARIANT" of the champion it replaced
    reason: str | None = None
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def of(
        cls, action: str, record: ChampionRecord, previous: ChampionRecord | None, reason: str
    ) -> HistoryEntry:
        """Return the entry of `record` taking over from `previous` (None: nobody)."""
        return cls(
            action,
            record.run_id,
            record.variant,
            record.when,
            record.metric,
            record.score,
            None if previous is None else previous.holder,
            reason,
        )

    @property
    def previous_run_id(self) -> str | None:
        return self.previous.split("/")[0] if self.previous else None

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Any, where: str) -> HistoryEntry:
        names = ("action", "run_id", "variant")
        if not isinstance(data, dict) or not all(isinstance(data.get(n), str) for n in names):
            raise StateFileError(f"{where} is damaged: it needs action, run_id and variant")
        version = _version(data, where)
        known = {f.name for f in fields(cls)} - {"schema_version"}
        return cls(**{k: v for k, v in data.items() if k in known}, schema_version=version)


def _version(data: Any, where: Path | str) -> int:
    """Return a record's schema version (1 if it has none); refuse one this code cannot read."""
    if not isinstance(data, dict):
        raise StateFileError(f"{where} is damaged: not a JSON object")
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or not 1 <= version <= SCHEMA_VERSION:
        raise StateFileError(
            f"{where} has schema_version {version!r}; this version of imbalance-flow reads "
            f"1 to {SCHEMA_VERSION} (written by a newer one?)"
        )
    return version


@dataclass(frozen=True)
class GateScore:
    """One line of champion-scores.jsonl: the champion and a candidate on one night's gate.

    The champion's stored final model scored again on that night's gate rows (never a
    stored metric reused), beside the candidate's: the champion's track record, so a
    decaying champion shows before the gate replaces it.
    """

    run_id: str  # the night's run
    champion: str  # RUN/VARIANT of the champion it was compared with
    metric: str
    champion_score: float
    candidate: str | None = None  # RUN/VARIANT
    candidate_score: float | None = None
    as_of: str | None = None
    when: str | None = None
    gate_rows: int | None = None
    gate_positives: int | None = None
    rule: str | None = None
    promoted: bool = False
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def of(cls, decision: Decision, as_of: str | None, when: str) -> GateScore | None:
        """Return the line a settled decision adds (None: no champion was scored)."""
        champion, candidate = decision.champion, decision.candidate
        if champion is None or champion.run_id is None or champion.score is None:
            return None
        return cls(
            run_id=candidate.run_id if candidate else "?",
            champion=champion.text(),
            metric=decision.metric,
            champion_score=champion.score,
            candidate=f"{candidate.run_id}/{candidate.variant}" if candidate else None,
            candidate_score=candidate.gate_score if candidate else None,
            as_of=as_of,
            when=when,
            gate_rows=decision.gate_rows,
            gate_positives=decision.gate_positives,
            rule=decision.rule,
            promoted=decision.promoted,
        )

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Any, where: str) -> GateScore:
        if (
            not isinstance(data, dict)
            or not all(isinstance(data.get(n), str) for n in ("run_id", "champion", "metric"))
            or not isinstance(data.get("champion_score"), int | float)
        ):
            raise StateFileError(f"{where} is damaged: it needs run_id, champion and a score")
        version = _version(data, where)
        known = {f.name for f in fields(cls)} - {"schema_version"}
        return cls(**{k: v for k, v in data.items() if k in known}, schema_version=version)
