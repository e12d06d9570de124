"""Flow tests run against one temporary Prefect server for the session."""

import os

import pytest

from imbalance.config import RetrainConfig

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

TINY = {"n_samples": 5_000, "epochs": 2}


@pytest.fixture(scope="session", autouse=True)
def prefect_server():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture(scope="session")
def tiny() -> dict:
    """A config small enough for a flow test: 5,000 rows, 2 epochs."""
    return dict(TINY)


@pytest.fixture
def tiny_config(tmp_path) -> RetrainConfig:
    return RetrainConfig(**TINY, artifacts_dir=str(tmp_path / "artifacts"))
