"""Models for choosing never learn from the validation rows, whatever the trainer."""

from __future__ import annotations

import numpy as np
import pytest

from imbalance.config import RetrainConfig
from imbalance.model.training import Member, train_members

pytestmark = pytest.mark.slow

CFG = RetrainConfig(training={"epochs": 3, "batch_size": 32})


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(600, 2)).astype(np.float32)
    y = (x[:, 0] + rng.normal(size=600) > 1.5).astype(np.float32)
    ignore = rng.random(600) < 0.25
    return x, y, ignore


def test_a_blind_member_is_unmoved_by_the_ignored_rows_and_the_same_in_every_trainer():
    x, y, ignore = _data()
    members = [Member("blind", {0: 1.0, 1: 5.0}, 3, blind=True), Member("all", {0: 1.0, 1: 5.0}, 3)]
    first = train_members(CFG, x, y, members, ignore=ignore)
    # Scramble what the ignored rows say: the blind member cannot tell, the other can.
    x2, y2 = x.copy(), y.copy()
    x2[ignore] = np.random.default_rng(9).normal(size=(int(ignore.sum()), 2)) * 10
    y2[ignore] = 1 - y2[ignore]
    second = train_members(CFG, x2, y2, members, ignore=ignore)
    for a, b in zip(first[0].weights, second[0].weights, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(
        not np.allclose(a, b) for a, b in zip(first[1].weights, second[1].weights, strict=True)
    )
    # The one-at-a-time compiled trainer weighs the ignored rows 0 too: the same model.
    fused = CFG.updated(training={"trainer": "fused"})
    [alone] = train_members(fused, x, y, [members[0]], ignore=ignore)
    for a, b in zip(first[0].weights, alone.weights, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
