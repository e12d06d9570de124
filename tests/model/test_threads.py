"""Variants train in threads of one process: a model's initial weights must not depend on them."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from imbalance import store
from tasks.model import build_model

pytestmark = pytest.mark.slow


def test_initial_weights_stay_the_same_while_another_thread_loads_models(tmp_path):
    # Loading a model rebuilds its layers, whose initializers draw from Keras's global
    # random state, the same state build_model seeds; the champion check loads one
    # while the variants are being built.
    path = store.save_model(tmp_path / "other.keras", build_model(8, 1e-3, seed=7))
    expected = [w.copy() for w in build_model(2, 1e-3, seed=1).get_weights()]
    stop = threading.Event()

    def keep_loading() -> None:
        while not stop.is_set():
            store.load_model(path)

    loader = threading.Thread(target=keep_loading)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up
    loader.start()
    try:
        built = [build_model(2, 1e-3, seed=1).get_weights() for _ in range(20)]
    finally:
        stop.set()
        loader.join()
        sys.setswitchinterval(interval)
    for weights in built:
        for got, want in zip(weights, expected, strict=True):
            np.testing.assert_array_equal(got, want)
