"""The config: tutorial defaults, and every bad value refused with the field named."""

import pytest
from pydantic import ValidationError

from imbalance.config import RetrainConfig, describe_error


def test_defaults_are_the_tutorials():
    cfg = RetrainConfig()
    assert (cfg.n_samples, cfg.minority_fraction, cfg.class_sep, cfg.data_seed) == (
        100_000,
        0.005,
        0.5,
        0,
    )
    assert (cfg.test_size, cfg.split_seed, cfg.stratify) == (0.2, 42, False)
    assert (cfg.hidden_units, cfg.epochs, cfg.batch_size, cfg.learning_rate) == (2, 50, 100, 0.001)
    assert cfg.manual_class_weight == {0: 1.0, 1: 200.0}
    assert cfg.variants == ["baseline", "balanced", "manual"]
    assert cfg.threshold == 0.5


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n_samples", 99),
        ("minority_fraction", 0),
        ("minority_fraction", 0.6),
        ("minority_fraction", 2),
        ("test_size", 0),
        ("test_size", 1),
        ("epochs", 0),
        ("batch_size", 0),
        ("learning_rate", 0),
        ("threshold", 1),
        ("manual_class_weight", {0: 1, 1: 0}),
        ("manual_class_weight", {0: 1, 1: -5}),
        ("manual_class_weight", {0: 1, 2: 200}),
        ("manual_class_weight", {1: 200}),
        ("variants", ["baseline", "nonsense"]),
        ("variants", []),
        ("variants", ["manual", "manual"]),
        ("trainer", "sgd"),
        ("no_such_field", 1),
    ],
)
def test_bad_value_is_refused_naming_the_field(field, value):
    with pytest.raises(ValidationError) as info:
        RetrainConfig(**{field: value})
    message = describe_error(info.value)
    assert field in message
    assert "\n" not in message


def test_the_message_says_the_allowed_range():
    with pytest.raises(ValidationError) as info:
        RetrainConfig(epochs=0)
    assert "greater than or equal to 1" in describe_error(info.value)


def test_class_weight_keys_arrive_as_strings_from_json_and_become_ints():
    cfg = RetrainConfig.model_validate_json('{"manual_class_weight": {"0": 1, "1": 50}}')
    assert cfg.manual_class_weight == {0: 1.0, 1: 50.0}


def test_every_field_has_a_title_and_description_for_the_ui_form():
    for name, field in RetrainConfig.model_fields.items():
        assert field.title and field.description, name
