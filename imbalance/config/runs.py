"""The config's sections about runs over time: the nightly schedule and where runs are kept."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

AS_OF_YEARS = (1970, 9000)  # far from datetime's limits, whatever window is subtracted


class NightlySection(BaseModel):
    """The config's `nightly` section (what it holds: `RetrainConfig.nightly`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: str = Field(
        "",
        title="As of",
        description="The date (or time) the run's data is as of, ISO 8601, e.g. 2026-11-28 "
        "for a backfill; empty: the scheduled start time of a scheduled run, now otherwise.",
        max_length=40,
    )
    skip_unchanged: bool = Field(
        True,
        title="Skip unchanged",
        description="End at once, without a new run folder, when the data's fingerprint and "
        "the config equal those of the newest complete run; off (`--force`): retrain anyway.",
    )

    @field_validator("as_of")
    @classmethod
    def _as_of_is_a_time(cls, value: str) -> str:
        value = value.strip()
        if value:
            parse_as_of(value)  # a ValueError names what is wrong
        return value


class StorageSection(BaseModel):
    """The config's `storage` section (what it holds: `RetrainConfig.storage`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    artifacts_dir: str = Field(
        "artifacts", min_length=1, title="Artifacts folder", description="Where runs are kept."
    )
    keep_runs: int = Field(
        30,
        ge=0,
        le=100_000,
        title="Runs kept",
        description="After each run, delete all but the newest N complete runs (never a run "
        "a champion came from); 0 keeps all.",
    )
    staging_days: float = Field(
        7.0,
        ge=0,
        le=36_500,
        title="Failed runs kept (days)",
        description="After each run, delete failed or killed runs left in staging that "
        "nothing has touched for this many days.",
    )


def parse_as_of(text: str) -> datetime:
    """Return an ISO 8601 date or time as an aware datetime, in the offset it was given in.

    A date is its midnight, and a time without an offset is taken as UTC. The offset
    is kept: the window's dates are those of the as-of time as written (2026-11-28
    01:00+05:00 is the 28th there, although the 27th in UTC).
    """
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 date or time, e.g. 2026-11-28 or 2026-11-28T02:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if not AS_OF_YEARS[0] <= parsed.year <= AS_OF_YEARS[1]:
        raise ValueError(f"{text!r} lies outside the years {AS_OF_YEARS[0]} to {AS_OF_YEARS[1]}")
    return parsed
