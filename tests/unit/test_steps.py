"""The pure steps on small inputs, failure cases included."""

import numpy as np
import pandas as pd
import pytest

from imbalance.config import RetrainConfig
from imbalance.data import DataError, split_frame
from imbalance.data.generator import GENERATOR_SPEC, make_dataset
from imbalance.report.render import comparison_table
from imbalance.selection.metrics import variant_metrics
from imbalance.selection.variants import VARIANTS, class_weight_for
from imbalance.selection.weights import balanced_class_weights, class_weight_table
from imbalance.store.provenance import run_id_for

SMALL = RetrainConfig(generator={"n_samples": 2_000})


def test_generated_data_has_the_columns_and_is_fixed_by_its_seed():
    first, again = make_dataset(SMALL), make_dataset(SMALL)
    assert list(first.columns) == ["x1", "x2", "label"]
    assert set(first["label"].unique()) <= {0, 1}
    pd.testing.assert_frame_equal(first, again)
    other = make_dataset(SMALL.updated(generator={"seed": 1}))
    assert not first.equals(other)


def test_split_sizes_follow_test_size_and_rows_are_not_shared():
    frame = make_dataset(SMALL)
    train, test = split_frame(frame, SMALL, GENERATOR_SPEC)
    assert (len(train), len(test)) == (1_600, 400)
    assert set(train.index).isdisjoint(test.index)


def test_stratified_split_keeps_the_class_ratio():
    cfg = SMALL.updated(holdout={"stratify": True})
    frame = make_dataset(cfg)
    train, test = split_frame(frame, cfg, GENERATOR_SPEC)
    assert abs(train["label"].mean() - test["label"].mean()) < 0.005


def test_a_training_split_without_minority_is_refused_in_one_line():
    frame = pd.DataFrame({"x1": np.zeros(200), "x2": np.zeros(200), "label": np.zeros(200, int)})
    with pytest.raises(DataError, match="no minority example") as info:
        split_frame(frame, RetrainConfig(generator={"n_samples": 200}), GENERATOR_SPEC)
    assert "\n" not in str(info.value)


def test_balanced_weights_are_n_over_two_counts():
    labels = np.array([0] * 90 + [1] * 10)
    assert balanced_class_weights(labels) == pytest.approx({0: 100 / 180, 1: 100 / 20})


def test_each_variant_takes_its_rules_weights():
    table = class_weight_table(np.array([0, 0, 0, 1]), RetrainConfig())
    assert class_weight_for(VARIANTS["baseline"], table) is None
    assert class_weight_for(VARIANTS["manual"], table) == {0: 1.0, 1: 200.0}
    assert class_weight_for(VARIANTS["balanced"], table) == table["balanced"]


def test_metrics_of_known_scores():
    y_true = np.array([0, 0, 0, 1, 1])
    scores = np.array([0.1, 0.6, 0.2, 0.9, 0.4])
    m = variant_metrics(y_true, scores, threshold=0.5)
    assert m["confusion_matrix"] == [[2, 1], [1, 1]]
    assert (m["precision"], m["recall"], m["f1"]) == (0.5, 0.5, 0.5)
    assert m["roc_auc"] == pytest.approx(5 / 6)
    assert "1" in m["classification_report"]


def test_a_lower_threshold_raises_recall():
    y_true = np.array([0, 0, 1, 1])
    scores = np.array([0.1, 0.3, 0.35, 0.9])
    assert (
        variant_metrics(y_true, scores, 0.3)["recall"]
        > variant_metrics(y_true, scores, 0.5)["recall"]
    )


def test_the_table_has_one_row_per_variant():
    m = variant_metrics(np.array([0, 1]), np.array([0.2, 0.8]), 0.5)
    metrics = {
        "variants": {
            "baseline": m | {"class_weight": None, "train_seconds": 1.0},
            "manual": m | {"class_weight": {0: 1.0, 1: 200.0}, "train_seconds": 1.0},
        }
    }
    rows = comparison_table(metrics).splitlines()
    assert len(rows) == 4
    assert rows[2].startswith("| baseline | none |")
    assert "1: 200" in rows[3]


def test_run_ids_sort_by_time_and_are_safe_folder_names():
    from datetime import UTC, datetime

    when = datetime(2026, 11, 29, 2, 0, 5, tzinfo=UTC)
    assert run_id_for(when, "Witty Otter!") == "20261129T020005Z-witty-otter"
    assert run_id_for(when, "20261129T020005Z-witty-otter") == "20261129T020005Z-witty-otter"


def test_a_validation_part_without_a_minority_row_is_refused_in_one_line():
    from imbalance.data import validation_rows

    train = pd.DataFrame(
        {"x1": np.zeros(1_000), "x2": np.zeros(1_000), "label": np.r_[[1, 1], np.zeros(998, int)]}
    )
    with pytest.raises(DataError, match="the validation part .* has 0 minority row"):
        validation_rows(train, RetrainConfig(), GENERATOR_SPEC)
    train["label"] = np.r_[np.ones(20, int), np.zeros(980, int)]
    held = validation_rows(train, RetrainConfig(), GENERATOR_SPEC)
    assert len(held) == 200 and train["label"].iloc[held].sum() == 4  # stratified


def test_a_row_is_in_the_gate_or_not_whatever_else_is_in_the_data():
    from imbalance.data import in_gate, row_keys

    rng = np.random.default_rng(0)
    grown = pd.DataFrame({"x1": rng.normal(size=20_000), "x2": rng.normal(size=20_000), "label": 0})
    columns = ["x1", "x2", "label"]
    gate = in_gate(row_keys(grown, columns), 0.2)
    assert abs(gate.mean() - 0.2) < 0.01
    # A window of the same rows, in another order and with the columns reordered: each
    # row keeps its place, so a row in one run's gate is in every run's gate.
    window = grown.iloc[rng.permutation(20_000)[:7_000]][["label", "x2", "x1"]]
    assert (in_gate(row_keys(window, columns), 0.2) == gate[window.index]).all()
    # A column read as int one night and float the next keeps its keys.
    ints = pd.DataFrame({"id": np.arange(1_000)})
    assert (row_keys(ints, ["id"]) == row_keys(ints.astype("float64"), ["id"])).all()
    # Text keys too, and a larger share holds every row of a smaller one.
    text = pd.DataFrame({"id": [f"customer-{i}" for i in range(1_000)]})
    keys = row_keys(text, ["id"])
    assert len(set(keys)) == 1_000
    assert (in_gate(keys, 0.1) <= in_gate(keys, 0.3)).all()
