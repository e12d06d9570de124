"""The config's sections about models: the network, its training, the choices, the gate."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from imbalance.config.flat import Flat
from imbalance.selection.variants import VARIANTS

# The gate's defaults, from its operating characteristics measured by simulation
# (benchmarks/bench_gate.py; README, "The champion gate"): on a 10,000-row table with
# 3.5% positives a share of 0.3 gives ~100 positive gate rows (81 at the least seen),
# where the rule promoted a clearly better candidate in 96% of trials and a clearly
# worse one in 4%; 0.2 gave 48-92 positives and 87-91% for the better one. A margin of
# 0.01 PR AUC let no candidate truly worse by more than 0.01 through; 0.02 let 8-20% of
# those 0.01-0.04 worse through. Below 50 positives the interval is +-0.1 PR AUC or wider.
GATE_SHARE = 0.3
GATE_MARGIN = 0.01
GATE_MIN_POSITIVES = 50

# Derived from VARIANTS so that adding a variant is one line, there.
VariantName = Literal[tuple(VARIANTS)]  # type: ignore[valid-type]
SelectionMetric = Literal["pr_auc", "roc_auc", "recall", "f1"]
Trainer = Literal["batched", "fused", "fit"]
ThresholdPolicy = Literal["fixed", "max_f1", "target_recall", "target_precision"]


class NetworkSection(BaseModel):
    """The config's `network` section (what it holds: `RetrainConfig.network`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hidden_units: int = Field(
        2, ge=1, le=256, title="Hidden units", description="Units in each of the two hidden layers."
    )
    learning_rate: float = Field(
        0.001, gt=0, le=1, title="Learning rate", description="Adam's learning rate."
    )


class TrainingSection(BaseModel):
    """The config's `training` section (what it holds: `RetrainConfig.training`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(
        50, ge=1, le=1000, title="Epochs", description="Passes over the training split."
    )
    batch_size: int = Field(
        100, ge=1, le=1_000_000, title="Batch size", description="Rows per gradient step."
    )
    seed: Annotated[int, Flat("train_seed")] = Field(
        42, ge=0, title="Training seed", description="Seed of each variant's weights and shuffling."
    )
    trainer: Trainer = Field(
        "batched",
        title="Trainer",
        description="batched: all models in one compiled loop (fastest); fused: one compiled "
        "loop per model, one after another; fit: Keras model.fit. The same updates in each.",
    )
    patience: int = Field(
        0,
        ge=0,
        le=1000,
        title="Early-stopping patience",
        description="Epochs without a lower class-weighted validation loss (by more than "
        "min_delta) after which a model stops; it keeps the weights of its best epoch. "
        "0: no early stopping, every model trains `epochs` epochs (else the most it trains).",
    )
    min_delta: float = Field(
        0.0,
        ge=0,
        title="Early-stopping minimum improvement",
        description="How much lower than the best so far a validation loss must be to count "
        "as an improvement (with patience > 0).",
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


class SelectionSection(BaseModel):
    """The config's `selection` section (what it holds: `RetrainConfig.selection`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Plain defaults (pydantic copies them for each config), not factories: the JSON schema
    # then carries them, and the UI's form shows them filled in.
    variants: list[VariantName] = Field(
        list(VARIANTS),
        min_length=1,
        title="Variants",
        description="Which variants to train: " + ", ".join(VARIANTS) + ".",
    )
    manual_class_weight: dict[int, float] = Field(
        {0: 1.0, 1: 200.0},
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
    sweep_points: int = Field(
        6,
        ge=0,
        le=50,
        title="Class-weight sweep",
        description="Minority weights tried, log-spaced from 1 to 500, plus the balanced one; "
        "the best on validation becomes the `tuned` variant. 0: no sweep.",
    )
    n_seeds: int = Field(
        3,
        ge=1,
        le=20,
        title="Seeds",
        description="Initial weights each choice is measured with (training.seed, "
        "training.seed + 1, ...): the report gives mean ± standard deviation, choices use "
        "the mean.",
    )
    metric: Annotated[SelectionMetric, Flat("selection_metric")] = Field(
        "pr_auc",
        title="Selection metric",
        description="Minority-class metric that picks the best variant and the champion.",
    )
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

    @field_validator("variants")
    @classmethod
    def _no_repeated_variant(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a variant is listed twice")
        return value


class GateSection(BaseModel):
    """The config's `gate` section (what it holds: `RetrainConfig.gate`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_improvement: float = Field(
        0.0,
        ge=0,
        le=1,
        title="Minimum improvement",
        description="How much any candidate must beat the champion by to replace it as "
        "superior: the lower end of the 95% bootstrap interval of the difference (on the "
        "gate rows) must exceed it.",
    )
    share: Annotated[float, Flat("gate_rows_share")] = Field(
        GATE_SHARE,
        gt=0,
        lt=1,
        title="Gate share",
        description="Share of all rows kept for the champion gate, for ever: a stable hash of "
        "each row's key (source.id_column, or the row's values) puts it in the gate or not, "
        "the same in every run, so no run's models train, choose or calibrate on them.",
    )
    margin: Annotated[float, Flat("gate_margin")] = Field(
        GATE_MARGIN,
        ge=0,
        le=1,
        title="Non-inferiority margin",
        description="A candidate trained on newer data replaces the champion unless it is "
        "worse: the lower end of the 95% bootstrap interval of the difference must be above "
        "-margin. 0: newer data must be superior too.",
    )
    min_positives: int = Field(
        GATE_MIN_POSITIVES,
        ge=1,
        title="Minimum positives",
        description="Positive gate rows (see gate.share) below which the champion gate "
        "refuses to compare (a difference on a handful of positives is noise).",
    )
    promote: bool = Field(
        True,
        title="Eligible for promotion",
        description="Whether this run may replace the champion (off for experiments).",
    )
