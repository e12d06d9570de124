"""The saved model's own preprocessing: the trainer's numbers, fitted on training rows only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.data.preprocess import fit_preprocessing, model_inputs, transform
from imbalance.data.spec import DataSpec, Feature
from imbalance.model.scoring import score
from imbalance.model.training import Member, keras_model, train_members

SPEC = DataSpec(
    label="churned",
    positive="Yes",
    negative="No",
    features=(
        Feature("balance", "numeric"),
        Feature("region name", "categorical"),  # a name Keras could not take as it is
        Feature("visits", "numeric"),
        Feature("constant", "numeric"),
        Feature("plan", "categorical"),
    ),
    scale=True,
)


def _rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    churned = rng.random(n) < 0.2
    return pd.DataFrame(
        {
            "balance": rng.normal(2.5e4, 1e4, n) + 5e3 * churned,
            "region name": rng.choice(["north", "south", "east"], n),
            "visits": rng.poisson(5, n).astype("int64"),
            "constant": np.full(n, 7.0),
            "plan": pd.Series(rng.choice(["basic", "plus", None], n), dtype="object"),
            "churned": np.where(churned, "Yes", "No"),
        }
    )


def test_statistics_come_from_the_training_rows_only():
    train, other = _rows(500, 0), _rows(500, 1)
    prep = fit_preprocessing(train, SPEC)
    assert prep.mean[0] == pytest.approx(train["balance"].mean())
    assert prep.variance[0] == pytest.approx(train["balance"].var(ddof=0))
    assert prep.variance[2] == 1.0  # constant: not 0, so a new value stays finite
    assert set(prep.vocabularies[0]) == {"north", "south", "east"}
    assert "" in prep.vocabularies[1]  # a missing plan is a category of its own
    assert fit_preprocessing(pd.concat([train, other]), SPEC) != prep
    x = transform(train, prep)
    assert x.shape == (500, 3 + 4 + 4) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 0].mean(), 0, atol=1e-5)
    np.testing.assert_allclose(x[:, 0].std(), 1, atol=1e-4)


@pytest.mark.slow
def test_the_saved_model_scores_raw_rows_as_its_dense_layers_score_transformed_ones(tmp_path):
    train, new = _rows(2_000, 0), _rows(300, 1)
    new.loc[0, "region name"] = "atlantis"  # never seen in training: the "other" slot
    new.loc[1, "constant"] = 9.0
    prep = fit_preprocessing(train, SPEC)
    cfg = RetrainConfig(training={"epochs": 3, "batch_size": 50})
    x, y = transform(train, prep), SPEC.target(train).astype("float32")
    [trained] = train_members(cfg, x, y, [Member("m", {0: 1.0, 1: 4.0}, 7)])
    model = keras_model(cfg, trained, prep)

    # The Keras layers (Normalization, StringLookup one-hot) compute what transform does.
    dense = model.layers[-1]
    expected = dense.predict(transform(new, prep), verbose=0).reshape(-1)
    np.testing.assert_allclose(score(model, new, SPEC), expected, atol=1e-6)

    # Saved and loaded: the same scores, Adam's state kept (it can train on).
    path = store.save_model(tmp_path / "m.keras", model)
    loaded = store.load_model(path)
    np.testing.assert_allclose(score(loaded, new, SPEC), expected, atol=1e-6)
    assert int(loaded.optimizer.iterations.numpy()) == trained.iterations > 0
    assert [i.dtype.kind for i in model_inputs(new, SPEC)] == ["f", "U", "f", "f", "U"]


def test_a_category_reads_the_same_however_the_file_stored_it(tmp_path):
    from cli.predict import read_rows
    from imbalance.data.spec import as_text

    # Whole numbers read as floats (one gap turns a CSV's int column into floats).
    assert list(as_text(pd.Series([3, 1]))) == ["3", "1"]
    assert list(as_text(pd.Series([3.0, 1.0, np.nan]))) == ["3", "1", ""]
    assert list(as_text(pd.Series([0.5, 1.0]))) == ["0.5", "1.0"]
    # `predict` parses as training does: the text "NA" is a category, not a gap.
    source = tmp_path / "rows.csv"
    source.write_text("kind,zone\nNA,1\nA,\n")
    rows = read_rows(source)
    assert list(as_text(rows["kind"])) == ["NA", "A"]
    assert list(as_text(rows["zone"])) == ["1", ""]
