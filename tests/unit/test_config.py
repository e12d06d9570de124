"""The config: tutorial defaults, sections, the flat form of earlier versions, and every bad
value refused with its field named."""

import json
from pathlib import Path
from typing import Annotated

import pytest
from pydantic import BaseModel, Field, ValidationError

from imbalance.config import (
    Flat,
    RetrainConfig,
    describe_error,
    flat_places,
    learned_part,
    recorded_fields,
)
from imbalance.config.flat import sectioned

# The manifest of a run made by the code before sections (commit 2a34200, `imbalance run
# --n-samples 5000 --epochs 2 --variants baseline,manual --sweep-points 0 --n-seeds 1
# --as-of 2026-11-28`): its config is flat.
OLD_RUN = Path(__file__).parent / "old_run" / "manifest.json"
# Config fields that run's code did not have yet.
ADDED_SINCE_OLD_RUN = {"training.patience", "training.min_delta"}


def test_defaults_are_the_tutorials():
    cfg = RetrainConfig()
    generator = cfg.generator
    assert (generator.n_samples, generator.minority_fraction, generator.class_sep) == (
        100_000,
        0.005,
        0.5,
    )
    assert generator.seed == 0
    assert (cfg.holdout.test_size, cfg.holdout.seed, cfg.holdout.stratify) == (0.2, 42, False)
    assert (cfg.network.hidden_units, cfg.network.learning_rate) == (2, 0.001)
    assert (cfg.training.epochs, cfg.training.batch_size) == (50, 100)
    assert cfg.selection.manual_class_weight == {0: 1.0, 1: 200.0}
    assert cfg.selection.variants == ["baseline", "balanced", "manual"]
    assert cfg.selection.threshold == 0.5


@pytest.mark.parametrize(
    ("section", "field", "value"),
    [
        ("generator", "n_samples", 99),
        ("generator", "minority_fraction", 0),
        ("generator", "minority_fraction", 0.6),
        ("generator", "minority_fraction", 2),
        ("holdout", "test_size", 0),
        ("holdout", "test_size", 1),
        ("training", "epochs", 0),
        ("training", "batch_size", 0),
        ("network", "learning_rate", 0),
        ("selection", "threshold", 1),
        ("selection", "manual_class_weight", {0: 1, 1: 0}),
        ("selection", "manual_class_weight", {0: 1, 1: -5}),
        ("selection", "manual_class_weight", {0: 1, 2: 200}),
        ("selection", "manual_class_weight", {1: 200}),
        ("selection", "variants", ["baseline", "nonsense"]),
        ("selection", "variants", []),
        ("selection", "variants", ["manual", "manual"]),
        ("training", "trainer", "sgd"),
        ("training", "no_such_field", 1),
    ],
)
def test_bad_value_is_refused_naming_the_field_with_its_section(section, field, value):
    with pytest.raises(ValidationError) as info:
        RetrainConfig(**{section: {field: value}})
    message = describe_error(info.value)
    assert f"{section}.{field}" in message
    assert "\n" not in message


def test_the_message_says_the_allowed_range():
    with pytest.raises(ValidationError) as info:
        RetrainConfig(training={"epochs": 0})
    assert "training.epochs: Input should be greater than or equal to 1" in describe_error(
        info.value
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"epoch": 3}, "epoch: unknown field (did you mean training.epochs?)"),
        (
            {"training": {"epoch": 3}},
            "training.epoch: unknown field (did you mean training.epochs?)",
        ),
        ({"foo": 1}, "foo: unknown field"),
        ({"trainnig": {"epochs": 3}}, "trainnig: unknown field (did you mean training"),
    ],
)
def test_an_unknown_key_is_named_with_the_nearest_known_one(given, message):
    with pytest.raises(ValidationError) as info:
        RetrainConfig.model_validate(given)
    assert message in describe_error(info.value)


def test_class_weight_keys_arrive_as_strings_from_json_and_become_ints():
    cfg = RetrainConfig.model_validate_json(
        '{"selection": {"manual_class_weight": {"0": 1, "1": 50}}}'
    )
    assert cfg.selection.manual_class_weight == {0: 1.0, 1: 50.0}


def test_every_section_and_field_has_a_title_and_description_for_the_ui_form():
    for section, info in RetrainConfig.model_fields.items():
        assert info.title and info.description, section
        model = info.annotation
        assert issubclass(model, BaseModel), section
        for name, field in model.model_fields.items():
            assert field.title and field.description, f"{section}.{name}"


# --- the flat form of earlier versions -------------------------------------------------------


def test_every_field_has_one_flat_name_and_the_renamed_ones_keep_theirs():
    places = flat_places(RetrainConfig)
    fields = [
        (s, n) for s, i in RetrainConfig.model_fields.items() for n in i.annotation.model_fields
    ]
    assert sorted(places.values()) == sorted(fields)  # each field once
    assert places["data"] == ("source", "path")
    assert places["split"] == ("holdout", "kind")
    assert places["data_seed"] == ("generator", "seed")
    assert places["split_seed"] == ("holdout", "seed")
    assert places["train_seed"] == ("training", "seed")
    assert places["selection_metric"] == ("selection", "metric")
    assert places["epochs"] == ("training", "epochs")


def test_a_flat_name_used_twice_is_refused():
    class One(BaseModel):
        seed: int = Field(0, title="t", description="d")

    class Two(BaseModel):
        seed: int = Field(0, title="t", description="d")

    class Clash(BaseModel):
        one: One = Field(default_factory=One)
        two: Two = Field(default_factory=Two)

    with pytest.raises(TypeError, match="flat name 'seed' is used twice"):
        flat_places(Clash)

    class Marked(BaseModel):
        seed: Annotated[int, Flat("two_seed")] = Field(0, title="t", description="d")

    class Resolved(BaseModel):
        one: One = Field(default_factory=One)
        two: Marked = Field(default_factory=Marked)

    assert flat_places(Resolved) == {"seed": ("one", "seed"), "two_seed": ("two", "seed")}


def test_todays_flat_json_is_read_into_its_sections():
    flat = json.dumps(
        {
            "data": "events/",
            "label": "churned",
            "positive": "yes",
            "time_column": "ts",
            "split": "time",
            "split_seed": 7,
            "epochs": 2,
            "train_seed": 3,
            "selection_metric": "roc_auc",
            "manual_class_weight": {"0": 1, "1": 50},
            "min_positives": 5,
            "as_of": "2026-11-28",
            "keep_runs": 3,
        }
    )
    cfg = RetrainConfig.model_validate_json(flat)
    assert cfg.source.path == "events/" and cfg.source.label == "churned"
    assert (cfg.holdout.kind, cfg.holdout.seed) == ("time", 7)
    assert (cfg.training.epochs, cfg.training.seed) == (2, 3)
    assert cfg.selection.metric == "roc_auc"
    assert cfg.selection.manual_class_weight == {0: 1.0, 1: 50.0}
    assert cfg.gate.min_positives == 5
    assert (cfg.nightly.as_of, cfg.storage.keep_runs) == ("2026-11-28", 3)
    # The same config written in sections is the same config.
    assert RetrainConfig.model_validate_json(cfg.model_dump_json()) == cfg


def test_flat_and_sectioned_keys_mix_but_one_field_is_given_once():
    cfg = RetrainConfig(epochs=3, training={"batch_size": 10}, generator={"n_samples": 500})
    assert (cfg.training.epochs, cfg.training.batch_size, cfg.generator.n_samples) == (3, 10, 500)
    with pytest.raises(ValidationError) as info:
        RetrainConfig(epochs=3, training={"epochs": 4})
    assert "epochs given twice" in describe_error(info.value)
    # A section given as a model counts its fields given, not its defaults.
    from imbalance.config import TrainingSection

    mixed = RetrainConfig(epochs=3, training=TrainingSection(batch_size=10))
    assert (mixed.training.epochs, mixed.training.batch_size) == (3, 10)


def test_a_bad_flat_value_is_named_by_its_section():
    with pytest.raises(ValidationError) as info:
        RetrainConfig(split_seed=-1)
    assert "holdout.seed: Input should be greater than or equal to 0" in describe_error(info.value)


def test_sectioned_leaves_sections_and_unknown_keys_alone():
    assert sectioned(RetrainConfig, {"source": {"label": "y"}, "foo": 1}) == {
        "source": {"label": "y"},
        "foo": 1,
    }
    assert sectioned(RetrainConfig, {"data": "x.csv"}) == {"source": {"path": "x.csv"}}


def test_an_old_runs_recorded_config_reads_and_compares_as_the_same_config():
    recorded = json.loads(OLD_RUN.read_text())["config"]
    assert "epochs" in recorded and "training" not in recorded  # flat, as it was written
    with pytest.warns(UserWarning, match="holdout.gate_share .* no longer applies"):
        cfg = RetrainConfig.model_validate(recorded)  # it had the retired gate_share
    assert (cfg.generator.n_samples, cfg.training.epochs) == (5_000, 2)
    assert cfg.selection.variants == ["baseline", "manual"]
    assert (cfg.selection.sweep_points, cfg.selection.n_seeds) == (0, 1)
    assert cfg.nightly.as_of == "2026-11-28"
    # Read as section.field, the old record and today's config of the same values agree.
    # (but for the gate, whose rows are chosen another way since: a change worth a run).
    # The early-stopping fields were added since too (a record without them never skips).
    gate = {"gate_share", "gate.share", "gate.margin", "source.id_column", *ADDED_SINCE_OLD_RUN}

    def without_gate(fields: dict) -> dict:
        return {k: v for k, v in fields.items() if k not in gate}

    fields = recorded_fields(recorded)
    assert without_gate(fields) == without_gate(recorded_fields(cfg.model_dump(mode="json")))
    assert fields["training.epochs"] == 2 and fields["storage.artifacts_dir"]
    learned = json.loads(json.dumps(cfg.learned_from()))
    assert without_gate(learned_part(recorded)) == without_gate(learned)
    assert learned_part(recorded) != learned
    # ...and a change of a learned field is a difference, of an unlearned one is not.
    other_night = cfg.updated(nightly={"as_of": "2026-11-29"}, storage={"keep_runs": 3})
    assert learned == json.loads(json.dumps(other_night.learned_from()))
    assert learned != cfg.updated(training={"epochs": 3}).learned_from()


def test_learned_from_leaves_out_only_the_fields_that_shape_nothing():
    learned = RetrainConfig().learned_from()
    assert "training.epochs" in learned and "storage.artifacts_dir" in learned
    assert not {"nightly.as_of", "nightly.skip_unchanged"} & set(learned)
    assert not {"storage.keep_runs", "storage.staging_days"} & set(learned)


def test_updated_validates_again_and_names_an_unknown_section():
    cfg = RetrainConfig()
    assert cfg.updated(training={"epochs": 4}).training.epochs == 4
    assert cfg.updated(training={"epochs": 4}).training.batch_size == 100  # the rest kept
    with pytest.raises(ValidationError):
        cfg.updated(training={"epochs": 0})
    with pytest.raises(ValueError, match="no config section 'trainig'"):
        cfg.updated(trainig={"epochs": 4})


def test_the_users_data_gets_defaults_for_real_tables_and_the_tutorial_keeps_its_own():
    tutorial = RetrainConfig()
    assert (tutorial.holdout.stratify, tutorial.training.patience) == (False, 0)
    assert tutorial.network.hidden_units == 2
    data = RetrainConfig.model_validate({"data": "t.csv", "label": "y"})  # flat, as a deployment
    assert (data.holdout.stratify, data.training.patience, data.network.hidden_units) == (
        True, 5, 16,
    )  # fmt: skip
    # What the user sets is kept; the values used are what the run records.
    mine = RetrainConfig(source={"path": "t.csv"}, network={"hidden_units": 4})
    assert (mine.network.hidden_units, mine.training.patience) == (4, 5)
    assert RetrainConfig.model_validate(mine.model_dump()) == mine
