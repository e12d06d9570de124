"""The flow's one parameter set: defaults are the tutorial's, bounds refuse bad input early."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from imbalance.variants import VARIANTS

# Derived from VARIANTS so that adding a variant is one line, there.
VariantName = Literal[tuple(VARIANTS)]  # type: ignore[valid-type]
SelectionMetric = Literal["pr_auc", "roc_auc", "recall", "f1"]
Trainer = Literal["batched", "fused", "fit"]


class RetrainConfig(BaseModel):
    """Everything one run of `retrain` depends on; the same values give the same run."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Retrain parameters")

    # data
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
    # split
    test_size: float = Field(
        0.2, gt=0, lt=1, title="Test share", description="Share of rows held out for testing."
    )
    split_seed: int = Field(42, ge=0, title="Split seed", description="Seed of the split.")
    stratify: bool = Field(
        False, title="Stratify", description="Keep the class ratio equal in both splits."
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
    # evaluation and promotion
    threshold: float = Field(
        0.5,
        gt=0,
        lt=1,
        title="Threshold",
        description="Score at or above which a row is called class 1.",
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
        description="How much the candidate must beat the champion by to replace it.",
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

    @field_validator("variants")
    @classmethod
    def _no_repeated_variant(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a variant is listed twice")
        return value

    @property
    def artifacts_path(self) -> Path:
        return Path(self.artifacts_dir)


def describe_error(error: ValidationError) -> str:
    """Return a one-line message naming each bad field and what it allows."""
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "config"
        parts.append(f"{field}: {item['msg']} (got {item.get('input')!r})")
    return "invalid config: " + "; ".join(parts)
