"""The flow's one parameter set: defaults are the tutorial's, bounds refuse bad input early."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from imbalance.variants import VARIANTS

# Derived from VARIANTS so that adding a variant is one line, there.
VariantName = Literal[tuple(VARIANTS)]  # type: ignore[valid-type]
SelectionMetric = Literal["pr_auc", "roc_auc", "recall", "f1"]
Trainer = Literal["batched", "fused", "fit"]
SplitKind = Literal["random", "time"]
# Fields that change neither the data nor the models: a run that differs from the
# newest complete one only in these has nothing new to learn (`skip_unchanged`).
AS_OF_YEARS = (1970, 9000)  # far from datetime's limits, whatever window is subtracted
NOT_LEARNED_FROM = frozenset({"as_of", "skip_unchanged", "keep_runs", "staging_days"})
ThresholdPolicy = Literal["fixed", "max_f1", "target_recall", "target_precision"]


class RetrainConfig(BaseModel):
    """Everything one run of `retrain` depends on; the same values give the same run."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Retrain parameters")

    # data: the user's own, or the tutorial's generator
    data: str = Field(
        "",
        title="Data",
        description="Where the rows are: a Parquet or CSV file, a folder of them, a glob "
        "(data/*.csv), or an fsspec URL (s3://bucket/key, file:///path). Empty: the "
        "tutorial's generated data (the generator's fields below apply only then).",
        max_length=4096,
    )
    label: str = Field(
        "label",
        min_length=1,
        title="Label column",
        description="The column with the yes/no outcome to predict (for data only).",
    )
    positive: str = Field(
        "1",
        min_length=1,
        title="Positive value",
        description="The label's value of the rare class, e.g. Yes, 1 or true (for data only).",
    )
    features: list[str] = Field(
        default_factory=list,
        title="Feature columns",
        description="Columns the model reads; empty: all but the label (for data only).",
    )
    categorical: list[str] = Field(
        default_factory=list,
        title="Categorical columns",
        description="Feature columns to one-hot encode; empty: the non-numeric ones "
        "(for data only). Numeric columns are standardised inside the saved model.",
    )
    window_days: int = Field(
        0,
        ge=0,
        le=36_500,
        title="Window (days)",
        description="Train on the date partitions (data/<key>=YYYY-MM-DD/...) in (as_of - N "
        "days, as_of] only, e.g. 7 for the last week; 0: every file (for data only).",
    )
    time_column: str = Field(
        "",
        title="Time column",
        description="A column with each row's date or time; never a feature. With split "
        "`time` the newest rows are the test part (for data only).",
    )
    split: SplitKind = Field(
        "random",
        title="Split",
        description="random: the test part is a random share (seeded); time: the newest "
        "rows by the time column (out-of-time evaluation).",
    )
    n_samples: int = Field(
        100_000, ge=100, le=50_000_000, title="Rows", description="Rows to generate."
    )
    minority_fraction: float = Field(
        0.005,
        gt=0,
        le=0.5,
        title="Minority fraction",
        description="Share of the rare class asked of the generator (1% label noise comes on top).",
    )
    class_sep: float = Field(
        0.5, gt=0, le=10, title="Class separation", description="How far apart the classes lie."
    )
    data_seed: int = Field(0, ge=0, title="Data seed", description="Seed of the data generator.")
    nightly_data: bool = Field(
        False,
        title="New generated data each night",
        description="Seed the generator with the as-of date (YYYYMMDD) instead of the data "
        "seed, so each night's generated data differs (a demo of retraining).",
    )
    # split
    test_size: float = Field(
        0.2, gt=0, lt=1, title="Test share", description="Share of rows held out for testing."
    )
    split_seed: int = Field(42, ge=0, title="Split seed", description="Seed of the split.")
    stratify: bool = Field(
        False, title="Stratify", description="Keep the class ratio equal in both splits."
    )
    validation_size: float = Field(
        0.2,
        gt=0,
        lt=1,
        title="Validation share",
        description="Share of the training part held out (stratified) to choose thresholds, "
        "the class weight, the variant and the champion; the final models then train on "
        "the whole training part, and the test part only reports.",
    )
    gate_share: float = Field(
        0.5,
        gt=0,
        lt=1,
        title="Gate share",
        description="Share of the validation rows (stratified) kept for the champion gate "
        "alone: the candidate is chosen on the others, so it is not compared with the "
        "champion on the rows it was picked on.",
    )
    # model and training
    hidden_units: int = Field(
        2, ge=1, le=256, title="Hidden units", description="Units in each of the two hidden layers."
    )
    epochs: int = Field(
        50, ge=1, le=1000, title="Epochs", description="Passes over the training split."
    )
    batch_size: int = Field(
        100, ge=1, le=1_000_000, title="Batch size", description="Rows per gradient step."
    )
    learning_rate: float = Field(
        0.001, gt=0, le=1, title="Learning rate", description="Adam's learning rate."
    )
    manual_class_weight: dict[int, float] = Field(
        default_factory=lambda: {0: 1.0, 1: 200.0},
        title="Manual class weight",
        description="Weight of class 0 and class 1 for the `manual` variant; each > 0.",
        # The same rule for the server: it checks the UI's form against this schema
        # before a run exists, where the validator below has not yet run.
        json_schema_extra={
            "propertyNames": {"enum": ["0", "1"]},
            "required": ["0", "1"],
            "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
        },
    )
    variants: list[VariantName] = Field(
        default_factory=lambda: list(VARIANTS),
        min_length=1,
        title="Variants",
        description="Which variants to train: " + ", ".join(VARIANTS) + ".",
    )
    trainer: Trainer = Field(
        "batched",
        title="Trainer",
        description="batched: all models in one compiled loop (fastest); fused: one compiled "
        "loop per model, one after another; fit: Keras model.fit. The same updates in each.",
    )
    dask_address: str = Field(
        "",
        title="Dask scheduler",
        description="Where the models train: empty for threads of the flow's process; "
        "`local` for a temporary cluster of worker processes on this machine; or a running "
        "scheduler's address, e.g. tcp://10.0.0.5:8786 (its workers must see the artifacts "
        "folder). The environment variable IMBALANCE_DASK_ADDRESS fills an empty one.",
        pattern=r"^$|^local$|^(tcp|tls|inproc|ucx)://\S+$",
    )
    dask_workers: int = Field(
        2,
        ge=1,
        le=64,
        title="Local Dask workers",
        description="Worker processes of the temporary cluster (dask_address `local`).",
    )
    models_per_task: int = Field(
        0,
        ge=0,
        le=100_000,
        title="Models per task",
        description="Models one training task trains together, the unit of work a Dask "
        "worker gets. 0: all in one task on threads; on Dask, an equal share per worker.",
    )
    train_seed: int = Field(
        42, ge=0, title="Training seed", description="Seed of each variant's weights and shuffling."
    )
    n_seeds: int = Field(
        3,
        ge=1,
        le=20,
        title="Seeds",
        description="Initial weights each choice is measured with (train_seed, train_seed + 1, "
        "...): the report gives mean ± standard deviation, choices use the mean.",
    )
    sweep_points: int = Field(
        6,
        ge=0,
        le=50,
        title="Class-weight sweep",
        description="Minority weights tried, log-spaced from 1 to 500, plus the balanced one; "
        "the best on validation becomes the `tuned` variant. 0: no sweep.",
    )
    # evaluation and promotion
    threshold_policy: ThresholdPolicy = Field(
        "max_f1",
        title="Threshold policy",
        description="How each model's threshold is chosen on validation: fixed (the "
        "threshold below), max_f1, target_recall (highest precision with recall >= the "
        "target) or target_precision (highest recall with precision >= the target).",
    )
    threshold_target: float = Field(
        0.8,
        gt=0,
        le=1,
        title="Threshold target",
        description="The recall or precision the target_* policies aim for.",
    )
    threshold: float = Field(
        0.5,
        gt=0,
        lt=1,
        title="Fixed threshold",
        description="Score at or above which a row is called class 1 (policy fixed).",
    )
    selection_metric: SelectionMetric = Field(
        "pr_auc",
        title="Selection metric",
        description="Minority-class metric that picks the best variant and the champion.",
    )
    min_improvement: float = Field(
        0.0,
        ge=0,
        le=1,
        title="Minimum improvement",
        description="How much the candidate must beat the champion by to replace it: the "
        "lower end of the 95% bootstrap interval of the difference must exceed it.",
    )
    min_positives: int = Field(
        30,
        ge=1,
        title="Minimum positives",
        description="Positive gate rows (see gate_share) below which the champion gate "
        "refuses to compare (a difference on a handful of positives is noise).",
    )
    promote: bool = Field(
        True,
        title="Eligible for promotion",
        description="Whether this run may replace the champion (off for experiments).",
    )
    # nightly runs
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
    artifacts_dir: str = Field(
        "artifacts", min_length=1, title="Artifacts folder", description="Where runs are kept."
    )

    @field_validator("manual_class_weight")
    @classmethod
    def _weights_for_both_classes(cls, value: dict[int, float]) -> dict[int, float]:
        if set(value) != {0, 1}:
            raise ValueError(
                f"needs a weight for class 0 and class 1 only, got classes {sorted(value)}"
            )
        bad = {k: v for k, v in value.items() if not v > 0}
        if bad:
            raise ValueError(f"weights must be > 0, got {bad}")
        return value

    @field_validator("positive", mode="before")
    @classmethod
    def _positive_as_text(cls, value: object) -> object:
        # A deployment's JSON may carry 1 or true; the data's values are matched as text.
        if isinstance(value, bool):
            return str(value).lower()
        return str(value) if isinstance(value, int | float) else value

    @field_validator("data")
    @classmethod
    def _no_secret_in_data(cls, value: str) -> str:
        # The config is stored in every run's manifest and shown in the UI.
        if re.match(r"^[a-zA-Z][\w+.-]*://[^/@]*:[^/@]*@", value.strip()):
            raise ValueError(
                "holds a password; give credentials in the environment (for s3://: "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), not in the URL"
            )
        return value.strip()

    @field_validator("features", "categorical")
    @classmethod
    def _column_names(cls, value: list[str]) -> list[str]:
        if any(not name for name in value):
            raise ValueError("a column name is empty")
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"column(s) listed twice: {', '.join(repeated)}")
        return value

    @model_validator(mode="after")
    def _columns_only_with_data(self) -> RetrainConfig:
        if self.nightly_data and self.data:
            raise ValueError("nightly_data seeds the generator; it does not apply with data")
        if self.split == "time" and not self.time_column:
            raise ValueError("split `time` needs a time_column")
        if self.time_column and (
            self.time_column == self.label or self.time_column in self.features
        ):
            raise ValueError(
                f"the time column {self.time_column!r} cannot be the label or a feature"
            )
        if self.data:
            unknown = sorted(set(self.categorical) - set(self.features)) if self.features else []
            if unknown:
                raise ValueError(f"categorical column(s) not among the features: {unknown}")
            if self.label in self.features:
                raise ValueError(f"the label column {self.label!r} is listed as a feature")
            return self
        own = {
            "label": "label",
            "positive": "1",
            "features": [],
            "categorical": [],
            "window_days": 0,
            "time_column": "",
        }
        given = [name for name, default in own.items() if getattr(self, name) != default]
        if given:
            verb = "apply" if len(given) > 1 else "applies"
            raise ValueError(f"{', '.join(given)} {verb} to data only; set data too")
        return self

    @field_validator("as_of")
    @classmethod
    def _as_of_is_a_time(cls, value: str) -> str:
        value = value.strip()
        if value:
            parse_as_of(value)  # a ValueError names what is wrong
        return value

    def as_of_time(self, scheduled: datetime | None = None) -> datetime:
        """Return the run's as-of time: `as_of` if given (in its own offset), else
        `scheduled`, else now (both in UTC)."""
        if self.as_of:
            return parse_as_of(self.as_of)
        return (scheduled or datetime.now(UTC)).astimezone(UTC)

    def learned_from(self) -> dict:
        """Return the fields that shape the data or the models (the skip check compares them)."""
        return self.model_dump(mode="json", exclude=set(NOT_LEARNED_FROM))

    @property
    def generated(self) -> bool:
        """Whether the run trains on the tutorial's generated data (no `data` given)."""
        return not self.data

    @field_validator("variants")
    @classmethod
    def _no_repeated_variant(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a variant is listed twice")
        return value

    @property
    def artifacts_path(self) -> Path:
        return Path(self.artifacts_dir)


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


def describe_error(error: ValidationError) -> str:
    """Return a one-line message naming each bad field and what it allows."""
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "config"
        parts.append(f"{field}: {item['msg']} (got {item.get('input')!r})")
    return "invalid config: " + "; ".join(parts)
