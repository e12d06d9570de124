"""Import Keras/TensorFlow quietly, only where a model is trained or loaded."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path
from types import ModuleType

# Keras draws initial weights (and fit its shuffles) from process-wide random state
# that `keras.utils.set_random_seed` resets. Variants train in threads of one
# process, so code that seeds or draws holds this lock until its draws are done:
# a variant's model is then the same whether others train beside it or not.
KERAS_RANDOM_STATE = threading.RLock()
# Where XLA keeps the machine code of compiled training loops between processes.
XLA_CACHE_ENV = "IMBALANCE_XLA_CACHE"


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


def xla_cache_dir() -> Path | None:
    """Return the folder of XLA's compile cache for the installed TensorFlow.

    $IMBALANCE_XLA_CACHE/<version> when that is set ("" turns the cache off), else
    ~/.cache/imbalance-flow/xla/<version> (or under $XDG_CACHE_HOME). One folder per
    TensorFlow version: compiled code is never loaded by another release.
    """
    from importlib.metadata import PackageNotFoundError, version

    chosen = os.environ.get(XLA_CACHE_ENV)
    if chosen == "":
        return None
    if chosen is None:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        chosen = base / "imbalance-flow" / "xla"
    try:
        release = version("tensorflow")
    except PackageNotFoundError:
        release = "unknown"
    return Path(chosen) / f"tensorflow-{release}"


def _use_xla_cache() -> None:
    """Point TensorFlow's persistent XLA cache at `xla_cache_dir()`, unless set already.

    Compiling the training loop takes ~0.8 s of the ~1.6 s a variant spends before
    its first step (measured); with the cache, runs after the first load the machine
    code instead. Entries are keyed by a fingerprint of the compiled program, so a
    changed network or shape compiles afresh; deleting the folder is always safe.
    """
    flags = os.environ.get("TF_XLA_FLAGS", "")
    folder = xla_cache_dir()
    if folder is None or "tf_xla_persistent_cache_directory" in flags:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # a read-only home: compile every time, as without the cache
    os.environ["TF_XLA_FLAGS"] = f"{flags} --tf_xla_persistent_cache_directory={folder}".strip()


def load_keras() -> ModuleType:
    """Return the `keras` module, importing TensorFlow without its start-up noise."""
    if "keras" in sys.modules and "tensorflow" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # oneDNN's fused kernels can round differently with the thread count; off keeps
    # a variant's weights identical in any process layout (and silences its banner).
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    _use_xla_cache()
    with _stderr_silenced():
        import keras
        import tensorflow as tf  # noqa: F401

    tf.get_logger().setLevel("ERROR")
    return keras
