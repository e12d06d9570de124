"""A 100-model sweep trained in this process against on a local 2-worker Dask cluster.

The sweep is 20 minority weights (log-spaced 1..500) x 5 seeds on the tutorial's
default training split (80,000 rows, 50 epochs, batch 100), trained by the flow's
own `train_members` (the batched trainer): here in one call, there as one chunk per
worker, each chunk a Dask task. The workers are warmed up first (TensorFlow
imported), so the Dask row measures what every run on a running cluster pays:
shipping the task and the data path, compiling, training, returning the weights.

Writes benchmarks/results/bench_dask.json and prints a markdown table.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from imbalance.config import RetrainConfig  # noqa: E402
from imbalance.data import split_frame  # noqa: E402
from imbalance.data.generator import (  # noqa: E402
    GENERATOR_SPEC,
    features_and_labels,  # noqa: E402
    make_dataset,
)
from imbalance.model.distribution import split_into_chunks  # noqa: E402
from imbalance.model.training import Member, train_members  # noqa: E402

WORKERS = 2
CFG = RetrainConfig()
MEMBERS = [
    Member(f"w{w:.3g}-s{s}", {0: 1.0, 1: float(w)}, s)
    for w in np.logspace(0, np.log10(500), 20)
    for s in range(5)
]


def train_split() -> tuple[np.ndarray, np.ndarray]:
    train, _ = split_frame(make_dataset(CFG), CFG, GENERATOR_SPEC)
    return features_and_labels(train)


def train_chunk(members: list[Member]) -> list:
    """What a worker does: read the split, train its chunk, send back the weights."""
    x, y = train_split()
    return train_members(CFG, x, y, members)


def main() -> None:
    from distributed import Client, LocalCluster

    from imbalance.model.tf import load_keras

    load_keras()
    started = time.perf_counter()
    here = train_chunk(MEMBERS)
    threads_s = time.perf_counter() - started

    with (
        LocalCluster(
            n_workers=WORKERS,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(load_keras)  # warm: TensorFlow imported in every worker
        chunks = split_into_chunks(MEMBERS, 0, WORKERS)
        started = time.perf_counter()
        futures = [client.submit(train_chunk, chunk, pure=False) for chunk in chunks]
        there = [m for f in futures for m in f.result()]
        dask_s = time.perf_counter() - started

    same = all(
        max(float(np.abs(a - b).max()) for a, b in zip(u.weights, v.weights, strict=True)) == 0
        for u, v in zip(here, there, strict=True)
    )
    tasks = len(chunks)
    rows = [
        {"row": "100-model sweep, batched, this process", "wall_s": round(threads_s, 2)},
        {
            "row": f"100-model sweep, batched, local Dask cluster ({WORKERS} workers)",
            "wall_s": round(dask_s, 2),
            "tasks": tasks,
            "models_per_second_per_worker": round(len(MEMBERS) / dask_s / WORKERS, 2),
            "overhead_per_task_s": round((dask_s - threads_s) / tasks, 2),
        },
    ]
    results = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg(),
        "same_weights_bit_for_bit": same,
        "rows": rows,
    }
    out = ROOT / "benchmarks" / "results" / "bench_dask.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print("| row | wall s | tasks | models/s per worker | overhead per task s |")
    print("|---|---|---|---|---|")
    for r in rows:
        cells = [r.get(k, "") for k in ("tasks", "models_per_second_per_worker")]
        print(
            f"| {r['row']} | {r['wall_s']} | {cells[0]} | {cells[1]} | "
            f"{r.get('overhead_per_task_s', '')} |"
        )
    print(f"same weights bit for bit: {same}")


if __name__ == "__main__":
    main()
