"""The flow's training on a real Dask cluster of worker processes, started here on loopback.

Same config, same models: threads, 2 workers, a worker killed mid-training, 1 worker.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from cli import main
from flows.retrain import retrain
from imbalance import store
from imbalance.config import RetrainConfig
from imbalance.store import ArtifactStore, RunPaths

pytestmark = [pytest.mark.slow, pytest.mark.dask]
# No sweep, one seed: the three variants and their blind twins, six models.
SMALL = {
    "generator": {"n_samples": 3_000},
    "holdout": {"stratify": True},
    "training": {"epochs": 2},
    "selection": {"sweep_points": 0, "n_seeds": 1},
}
VARIANTS = ["baseline", "balanced", "manual"]


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        with Client(cluster) as client:
            yield cluster, client
    finally:
        # After a worker was killed and restarted (a test below), closing can end in
        # distributed's own KeyError in SpecCluster._update_worker_status (a "remove"
        # for an address its scheduler_info no longer holds: dask/distributed#5407),
        # raised after the workers and the scheduler were closed; seen once in a suite
        # run. Not this project's failure, and nothing is left running.
        with contextlib.suppress(KeyError):
            cluster.close()


@pytest.fixture(scope="module")
def on_threads(tmp_path_factory) -> RunPaths:
    root = tmp_path_factory.mktemp("threads")
    return RunPaths(Path(retrain(RetrainConfig(**SMALL, storage={"artifacts_dir": str(root)}))))


def _run_on(address: str, root: Path, **training) -> RunPaths:
    cfg = RetrainConfig(**SMALL, storage={"artifacts_dir": str(root)}).updated(
        training={"dask_address": address, **training}
    )
    return RunPaths(Path(retrain(cfg)))


def _same_models(run: RunPaths, reference: RunPaths) -> None:
    a, b = (store.read_json(r.metrics)["variants"] for r in (run, reference))
    for name in VARIANTS:
        assert a[name]["confusion_matrix"] == b[name]["confusion_matrix"]
        assert a[name]["final_loss"] == pytest.approx(b[name]["final_loss"], abs=1e-6)
    predictions = (pd.read_parquet(r.predictions) for r in (run, reference))
    pd.testing.assert_frame_equal(*predictions, check_exact=False, atol=1e-6)


def test_a_run_on_two_workers_equals_the_run_on_threads(cluster, on_threads, tmp_path):
    _, client = cluster
    # Three tasks of two models for two workers: one worker takes two tasks, and a
    # task's models are not those of a run's batch (one compile per task: not one each).
    run = _run_on(client.scheduler.address, tmp_path, models_per_task=2)
    _same_models(run, on_threads)
    assert store.read_json(run.manifest)["trained_on"] == {
        "dask": client.scheduler.address,
        "tasks": 3,
    }


def test_a_worker_killed_while_it_trains_is_replaced_and_the_run_is_the_same(
    cluster, on_threads, tmp_path
):
    _, client = cluster
    result: dict = {}

    def run() -> None:
        try:
            result["run"] = _run_on(client.scheduler.address, tmp_path)  # 2 tasks: 3 + 3 models
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            result["error"] = exc

    flow = threading.Thread(target=run)
    flow.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and flow.is_alive() and time.monotonic() < deadline:
        busy = [w for w, tasks in client.processing().items() if tasks]
        if busy:
            pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
            os.kill(pid, signal.SIGKILL)
            killed = busy[0]
        time.sleep(0.05)
    flow.join(timeout=300)
    assert killed, "no worker was seen training"
    assert "error" not in result, result.get("error")
    _same_models(result["run"], on_threads)


def test_a_run_on_one_worker_equals_the_run_on_threads(cluster, on_threads, tmp_path):
    local, client = cluster
    local.scale(1)
    client.wait_for_workers(1)
    deadline = time.monotonic() + 60
    while len(client.scheduler_info()["workers"]) != 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    _same_models(_run_on(client.scheduler.address, tmp_path), on_threads)


def test_an_unreachable_scheduler_fails_at_once_in_one_line(tmp_path, capsys):
    root = tmp_path / "artifacts"
    address = "tcp://127.0.0.1:9"  # the discard port: nothing listens
    status = main(["run", "--dask-address", address, "--artifacts-dir", str(root)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert err[-1].startswith(f"imbalance run: the Dask scheduler at {address} did not answer")
    artifacts = ArtifactStore(root)
    assert artifacts.run_ids() == [] and artifacts.unfinished_run_ids() == []
