"""Flow tests run against one temporary Prefect server for the session."""

import os

import pytest

from imbalance.config import RetrainConfig

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

# Two swept weights (1 and 500, plus the balanced one) and two seeds: every kind of
# model a run trains, 18 of them rather than the default 40.
TINY = {
    "generator": {"n_samples": 5_000},
    "training": {"epochs": 2},
    "selection": {"sweep_points": 2, "n_seeds": 2},
}


@pytest.fixture(scope="session", autouse=True)
def prefect_server():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture(scope="session")
def tiny() -> dict:
    """A config small enough for a flow test: 5,000 rows, 2 epochs, 18 models."""
    return dict(TINY)


@pytest.fixture
def tiny_config(tmp_path) -> RetrainConfig:
    return RetrainConfig(**TINY, storage={"artifacts_dir": str(tmp_path / "artifacts")})
