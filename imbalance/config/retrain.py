"""The flow's one parameter set, in sections: the rows, the models, the runs over time."""

from __future__ import annotations

import difflib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from imbalance.config.data import DataSection, GeneratorSection, SplitSection
from imbalance.config.flat import dotted, flat_places, sectioned
from imbalance.config.model import GateSection, NetworkSection, SelectionSection, TrainingSection
from imbalance.config.runs import NightlySection, StorageSection, parse_as_of

# Fields that change neither the data nor the models: a run that differs from the
# newest complete one only in these has nothing new to learn (`skip_unchanged`).
NOT_LEARNED_FROM = frozenset(
    {"nightly.as_of", "nightly.skip_unchanged", "storage.keep_runs", "storage.staging_days"}
)


class RetrainConfig(BaseModel):
    """Everything one run of `retrain` depends on; the same values give the same run.

    The flat form of earlier versions (`{"epochs": 2}`, as old runs' manifests and
    deployments have it) is accepted and put into its sections (`training.epochs`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, title="Retrain parameters")

    data: DataSection = Field(
        default_factory=DataSection,
        title="Your data",
        description="Your own rows and their columns; empty source: the tutorial's generated data.",
    )
    generator: GeneratorSection = Field(
        default_factory=GeneratorSection,
        title="Generated data",
        description="The tutorial's generated rows (used when data has no source).",
    )
    split: SplitSection = Field(
        default_factory=SplitSection,
        title="Split",
        description="How the rows are cut into training, validation, gate and test parts.",
    )
    network: NetworkSection = Field(
        default_factory=NetworkSection,
        title="Network",
        description="The network every variant trains: its size and its optimizer's step.",
    )
    training: TrainingSection = Field(
        default_factory=TrainingSection,
        title="Training",
        description="How the models train (epochs, batches, seed, trainer), and where.",
    )
    selection: SelectionSection = Field(
        default_factory=SelectionSection,
        title="Selection",
        description="What is tried on validation (variants, class weights, seeds, "
        "thresholds) and the metric that picks the best.",
    )
    gate: GateSection = Field(
        default_factory=GateSection,
        title="Champion gate",
        description="When the chosen candidate replaces the champion.",
    )
    nightly: NightlySection = Field(
        default_factory=NightlySection,
        title="Nightly runs",
        description="Which night a run is, and whether a night with nothing new runs.",
    )
    storage: StorageSection = Field(
        default_factory=StorageSection,
        title="Storage",
        description="Where runs are kept, and for how long.",
    )

    @model_validator(mode="before")
    @classmethod
    def _flat_keys_into_sections(cls, values: Any) -> Any:
        return sectioned(cls, values) if isinstance(values, dict) else values

    @model_validator(mode="after")
    def _sections_agree(self) -> RetrainConfig:
        if self.generator.nightly_data and self.data.source:
            raise ValueError(
                "generator.nightly_data seeds the generator; it does not apply with data.source"
            )
        if self.split.kind == "time" and not self.data.time_column:
            raise ValueError("split.kind `time` needs a data.time_column")
        return self

    def as_of_time(self, scheduled: datetime | None = None) -> datetime:
        """Return the run's as-of time: `nightly.as_of` if given (in its own offset), else
        `scheduled`, else now (both in UTC)."""
        if self.nightly.as_of:
            return parse_as_of(self.nightly.as_of)
        return (scheduled or datetime.now(UTC)).astimezone(UTC)

    def learned_from(self) -> dict[str, Any]:
        """Return {"section.field": value} of the fields that shape the data or the models
        (the skip check compares them)."""
        return learned_part(self.model_dump(mode="json"))

    def updated(self, **sections: dict[str, Any]) -> RetrainConfig:
        """Return this config with some fields of some sections changed, validated again:
        `cfg.updated(training={"epochs": 4})`."""
        values = self.model_dump()
        for section, fields in sections.items():
            if section not in values:
                raise ValueError(f"no config section {section!r}")
            values[section] = values[section] | fields
        return type(self).model_validate(values)

    @property
    def generated(self) -> bool:
        """Whether the run trains on the tutorial's generated data (no `data.source` given)."""
        return not self.data.source

    @property
    def artifacts_path(self) -> Path:
        return Path(self.storage.artifacts_dir)


def recorded_fields(recorded: dict[str, Any]) -> dict[str, Any]:
    """Return a run's recorded config, flat (before sections) or in sections, as
    {"section.field": value}; keys this version does not know are kept as they are."""
    return dotted(RetrainConfig, recorded)


def learned_part(recorded: dict[str, Any]) -> dict[str, Any]:
    """Return `recorded_fields(recorded)` without the fields in NOT_LEARNED_FROM."""
    return {k: v for k, v in recorded_fields(recorded).items() if k not in NOT_LEARNED_FROM}


def describe_error(error: ValidationError) -> str:
    """Return a one-line message naming each bad field (`section.field`) and what it allows."""
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "config"
        if item["type"] == "extra_forbidden":
            parts.append(f"{field}: unknown field{_did_you_mean(field)}")
            continue
        value = item.get("input")
        # A whole section's or config's input says nothing the message does not.
        got = "" if isinstance(value, dict | BaseModel) else f" (got {value!r})"
        parts.append(f"{field}: {item['msg']}{got}")
    return "invalid config: " + "; ".join(parts)


def _did_you_mean(field: str) -> str:
    # A flat name near the unknown one is suggested by its place in its section.
    places = flat_places(RetrainConfig)
    known = {f"{s}.{name}": f"{s}.{name}" for s, name in places.values()}
    known |= {flat: f"{s}.{name}" for flat, (s, name) in places.items()}
    known |= {section: section for section in RetrainConfig.model_fields}
    close = difflib.get_close_matches(field, list(known), n=1, cutoff=0.75)
    return f" (did you mean {known[close[0]]}?)" if close else ""
