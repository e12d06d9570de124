"""Import Keras/TensorFlow quietly, only where a model is trained or loaded."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable
from types import ModuleType

# `model.fit` shuffles from process-wide random state that `keras.utils.set_random_seed`
# resets: fits in threads of one process take turns under this lock. (Initial weights
# need no lock: `network.build_model` seeds each initializer itself.)
KERAS_RANDOM_STATE = threading.RLock()
# The first import points fd 2 at /dev/null and back: two threads doing that at once
# could leave it pointing at /dev/null for good. One import at a time.
_IMPORT_LOCK = threading.Lock()
# Called with the keras module once it is imported: the project's own Keras classes
# (imbalance.model.definition's layer) register there, so that a saved model loads
# wherever Keras is loaded. They import this module, so it cannot import them.
_ON_IMPORT: list[Callable[[ModuleType], object]] = []


@contextlib.contextmanager
def _stderr_silenced():
    """Point file descriptor 2 at /dev/null for the duration of the block.

    TensorFlow's C++ runtime prints CUDA and oneDNN lines straight to fd 2 while it
    is imported, before its own logging exists, so TF_CPP_MIN_LOG_LEVEL cannot stop
    them (see FACTS.md). Only a file-descriptor redirect does.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def load_keras() -> ModuleType:
    """Return the `keras` module, importing TensorFlow without its start-up noise."""
    with _IMPORT_LOCK:
        keras = _import_keras()
        while _ON_IMPORT:
            _ON_IMPORT.pop(0)(keras)
        return keras


def on_import(callback: Callable[[ModuleType], object]) -> None:
    """Have `callback(keras)` run once, when `load_keras` next runs (Keras imported or not)."""
    with _IMPORT_LOCK:
        _ON_IMPORT.append(callback)


def _import_keras() -> ModuleType:
    if "keras" in sys.modules and "tensorflow" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # oneDNN's fused kernels can round differently with the thread count; off keeps
    # a variant's weights identical in any process layout (and silences its banner).
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    with _stderr_silenced():
        import keras
        import tensorflow as tf  # noqa: F401

    tf.get_logger().setLevel("ERROR")
    return keras
