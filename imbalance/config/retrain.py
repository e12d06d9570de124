"""The flow's one parameter set, in sections: the rows, the models, the runs over time."""

from __future__ import annotations

import difflib
import re
import warnings
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

from imbalance.config.data import GeneratorSection, HoldoutSection, SourceSection
from imbalance.config.flat import dotted, flat_places, section_model, sectioned
from imbalance.config.model import GateSection, NetworkSection, SelectionSection, TrainingSection
from imbalance.config.runs import NightlySection, StorageSection, parse_as_of

# Fields that change neither the data nor the models: a run that differs from the
# newest complete one only in these has nothing new to learn (`skip_unchanged`).
NOT_LEARNED_FROM = frozenset(
    {"nightly.as_of", "nightly.skip_unchanged", "storage.keep_runs", "storage.staging_days"}
)


def _flat_names_too(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Let the JSON schema accept the flat form as well: each flat name, by its field's schema.

    The server checks a run's and a deployment's parameters against this schema before the
    flow sees them, so without this a flat `cfg` (a prefect.yaml or a script of an earlier
    version) would be refused there. `patternProperties` is what the UI's form leaves out:
    it shows the sections only. Built from the fields, so it is no second list of them.
    """
    patterns = {}
    for flat, (section, name) in flat_places(model).items():
        field_schema = section_model(model, section).model_json_schema()["properties"][name]
        patterns[f"^{re.escape(flat)}$"] = field_schema
    schema["patternProperties"] = patterns


class RetrainConfig(BaseModel):
    """Everything one run of `retrain` depends on; the same values give the same run."""

    # The flat form of earlier versions (`{"epochs": 2}`, as old runs' manifests and
    # deployments have it) is accepted and put into its sections (`training.epochs`).
    # A section's title and description are its field's here (the UI's form shows these).

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="Retrain parameters",
        json_schema_extra=_flat_names_too,
    )

    source: SourceSection = Field(
        default_factory=SourceSection,
        title="Your data",
        description="Your own rows and their columns; no path: the tutorial's generated data.",
    )
    generator: GeneratorSection = Field(
        default_factory=GeneratorSection,
        title="Generated data",
        description="The tutorial's generated rows (used when source has no path).",
    )
    holdout: HoldoutSection = Field(
        default_factory=HoldoutSection,
        title="Held-out rows",
        description="What is held out of training: the test part, and validation and gate rows.",
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
        if not isinstance(values, dict):
            return values
        return _with_data_defaults(sectioned(cls, _without_retired(values)))

    @model_validator(mode="after")
    def _sections_agree(self) -> RetrainConfig:
        if self.generator.nightly_data and self.source.path:
            raise ValueError(
                "generator.nightly_data seeds the generator; it does not apply with source.path"
            )
        if self.holdout.kind == "time" and not self.source.time_column:
            raise ValueError("holdout.kind `time` needs a source.time_column")
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
        """Whether the run trains on the tutorial's generated data (no `source.path` given)."""
        return not self.source.path

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


# Defaults for the user's own data (`source.path` given), where the tutorial's are too
# small: measured on a 10,000-row table with 3% positives (README, "Your own data"), 16
# hidden units with early stopping raised the chosen model's test PR AUC from 0.40/0.35
# to 0.45/0.44 (two data seeds) against the tutorial's 2 units and 50 epochs; 32 units
# gave the same. A field the user sets keeps the user's value; generated data keeps the
# tutorial's settings.
DATA_DEFAULTS: dict[tuple[str, str], Any] = {
    ("holdout", "stratify"): True,
    ("training", "patience"): 5,
    ("network", "hidden_units"): 16,
}


def _with_data_defaults(values: dict[str, Any]) -> dict[str, Any]:
    source = values.get("source")
    path = source.get("path") if isinstance(source, dict) else getattr(source, "path", "")
    if not path:
        return values
    values = dict(values)
    for (section, name), default in DATA_DEFAULTS.items():
        part = values.get(section, {})
        if isinstance(part, dict) and name not in part:
            values[section] = {**part, name: default}
    return values


# Fields that no longer exist: an old run's recorded config and an old deployment still
# read (a night must not fail after an upgrade), with one warning naming what replaced them.
RETIRED = {
    ("holdout", "gate_share", "gate_share"): "holdout.gate_share (a share of the validation "
    "rows) no longer applies: the gate's rows are gate.share (flat: gate_rows_share) of all "
    "rows, chosen by a hash of each row's key; it is ignored",
}


def _without_retired(values: dict[str, Any]) -> dict[str, Any]:
    for (section, name, flat), why in RETIRED.items():
        if flat in values:
            values = {k: v for k, v in values.items() if k != flat}
            warnings.warn(why, UserWarning, stacklevel=2)
        part = values.get(section)
        if isinstance(part, dict) and name in part:
            values = {**values, section: {k: v for k, v in part.items() if k != name}}
            warnings.warn(why, UserWarning, stacklevel=2)
    return values


def describe_error(error: ValidationError) -> str:
    """Return a one-line message naming each bad field (`section.field`) and what it allows."""
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "config"
        if item["type"] == "extra_forbidden":
            retired = RETIRED.get(field)
            parts.append(
                f"{field}: {retired}"
                if retired
                else f"{field}: unknown field{_did_you_mean(field)}"
            )
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
