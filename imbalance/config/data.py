"""The config's sections about rows: the user's own (source), the tutorial's generator, and
what is held out of training (holdout)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from imbalance.config.flat import Flat

SplitKind = Literal["random", "time"]


class SourceSection(BaseModel):
    """The config's `source` section (what it holds: `RetrainConfig.source`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # Its fields other than the path keep their defaults with generated data (a check below).

    path: Annotated[str, Flat("data")] = Field(
        "",
        title="Data",
        description="Where the rows are: a Parquet or CSV file, a folder of them, a glob "
        "(data/*.csv), or an fsspec URL (s3://bucket/key, file:///path). Empty: the "
        "tutorial's generated data (the generator's fields apply only then).",
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
    id_column: str = Field(
        "",
        title="ID column",
        description="A column with each row's key (e.g. a customer or transaction id); "
        "never a feature. The champion gate's rows are chosen by a hash of it, so a row "
        "stays in the gate in every run. Empty: the hash of the row's values (for data only).",
    )
    time_column: str = Field(
        "",
        title="Time column",
        description="A column with each row's date or time; never a feature. With split "
        "`time` the newest rows are the test part (for data only).",
    )

    @field_validator("positive", mode="before")
    @classmethod
    def _positive_as_text(cls, value: object) -> object:
        # A deployment's JSON may carry 1 or true; the data's values are matched as text.
        if isinstance(value, bool):
            return str(value).lower()
        return str(value) if isinstance(value, int | float) else value

    @field_validator("path")
    @classmethod
    def _no_secret_in_path(cls, value: str) -> str:
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
    def _columns_only_with_a_path(self) -> SourceSection:
        for name, column in (("id", self.id_column), ("time", self.time_column)):
            if column and (column == self.label or column in self.features):
                raise ValueError(f"the {name} column {column!r} cannot be the label or a feature")
        if self.id_column and self.id_column == self.time_column:
            raise ValueError(f"{self.id_column!r} cannot be both the id and the time column")
        if self.path:
            unknown = sorted(set(self.categorical) - set(self.features)) if self.features else []
            if unknown:
                raise ValueError(f"categorical column(s) not among the features: {unknown}")
            if self.label in self.features:
                raise ValueError(f"the label column {self.label!r} is listed as a feature")
            return self
        # Each field's own default: what a run on generated data must leave alone.
        given = [
            f"source.{name}"
            for name, field in type(self).model_fields.items()
            if name != "path"
            and getattr(self, name) != field.get_default(call_default_factory=True)
        ]
        if given:
            verb = "apply" if len(given) > 1 else "applies"
            raise ValueError(
                f"{', '.join(given)} {verb} to your own data only; set source.path too"
            )
        return self


class GeneratorSection(BaseModel):
    """The config's `generator` section (what it holds: `RetrainConfig.generator`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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
    seed: Annotated[int, Flat("data_seed")] = Field(
        0, ge=0, title="Data seed", description="Seed of the data generator."
    )
    nightly_data: bool = Field(
        False,
        title="New generated data each night",
        description="Seed the generator with the as-of date (YYYYMMDD) instead of the data "
        "seed, so each night's generated data differs (a demo of retraining).",
    )


class HoldoutSection(BaseModel):
    """The config's `holdout` section (what it holds: `RetrainConfig.holdout`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Annotated[SplitKind, Flat("split")] = Field(
        "random",
        title="Split",
        description="random: the test part is a random share (seeded); time: the newest "
        "rows by the time column (out-of-time evaluation).",
    )
    test_size: float = Field(
        0.2, gt=0, lt=1, title="Test share", description="Share of rows held out for testing."
    )
    seed: Annotated[int, Flat("split_seed")] = Field(
        42, ge=0, title="Split seed", description="Seed of the split."
    )
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
        "the whole training part, and the test part only reports. The gate's rows are "
        "apart from these (gate.share).",
    )
