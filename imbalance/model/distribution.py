"""Where the models train: threads of the flow's process or a Dask cluster; pure planning.

The unit of work sent to a Dask worker is a chunk of models that one task trains
together (the batched trainer's K). A chunk's results do not depend on what else
trains beside it (imbalance/model/batched.py), so any split gives the same models.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")
ADDRESS_VARIABLE = "IMBALANCE_DASK_ADDRESS"
LOCAL = "local"


class ClusterUnreachable(RuntimeError):
    """The Dask scheduler did not answer; the message names its address."""


def dask_address(configured: str) -> str:
    """Return the Dask address to use: the configured one, else the environment's, else ''."""
    return configured or os.environ.get(ADDRESS_VARIABLE, "").strip()


def split_into_chunks(items: Sequence[T], per_chunk: int, n_workers: int) -> list[list[T]]:
    """Return `items` in order, in chunks of `per_chunk` (0: one equal share per worker)."""
    if not items:
        return []
    if per_chunk <= 0:
        per_chunk = -(-len(items) // max(1, n_workers))
    return [list(items[i : i + per_chunk]) for i in range(0, len(items), per_chunk)]
