"""Data tests on the tutorial's default data: counts, weights, schema, no leakage."""

import pytest

from imbalance.config import RetrainConfig
from imbalance.data import count_split, split_frame
from imbalance.data.generator import GENERATOR_SPEC, make_dataset
from imbalance.selection.weights import balanced_class_weights


@pytest.fixture(scope="module")
def tutorial_split():
    cfg = RetrainConfig()
    frame = make_dataset(cfg)
    return frame, *split_frame(frame, cfg, GENERATOR_SPEC)


def test_the_split_has_the_tutorials_counts(tutorial_split):
    _, train, test = tutorial_split
    counts = count_split(train, test, GENERATOR_SPEC)
    assert (counts.train_rows, counts.train_minority) == (80_000, 817)
    assert (counts.test_rows, counts.test_minority) == (20_000, 213)


def test_balanced_weights_are_the_tutorials(tutorial_split):
    _, train, _ = tutorial_split
    weights = balanced_class_weights(train["label"].to_numpy())
    assert weights == pytest.approx({0: 0.5051589, 1: 48.9596083}, rel=1e-6)


def test_about_one_percent_is_minority(tutorial_split):
    frame, _, _ = tutorial_split
    assert 0.008 < frame["label"].mean() < 0.012


def test_no_row_is_in_both_splits(tutorial_split):
    _, train, test = tutorial_split
    assert set(train.index).isdisjoint(test.index)
    assert len(train) + len(test) == 100_000
