"""A run killed midway leaves nothing that looks complete and harms no earlier run."""

import os
import signal
import subprocess
import sys
import time

import pytest
from prefect.settings import PREFECT_API_URL

from imbalance import store
from imbalance.store import ArtifactStore, RunRecord

pytestmark = pytest.mark.slow


def _earlier_run(artifacts: ArtifactStore) -> store.RunPaths:
    run = artifacts.start_run("20200101T000000Z-earlier")
    store.write_text(run.report, "an earlier run")
    return artifacts.complete_run(run, RunRecord(run.run_id, "completed"))


def test_a_killed_run_stays_incomplete_and_the_earlier_run_is_untouched(tmp_path, tiny):
    artifacts = ArtifactStore(tmp_path / "artifacts")
    earlier = _earlier_run(artifacts)
    latest_before = artifacts.latest_file.read_bytes()
    options = [
        f"--{k.replace('_', '-')}={v}" for fields in tiny.values() for k, v in fields.items()
    ]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "run",
            *options,
            f"--artifacts-dir={artifacts.root}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=os.environ | {"PREFECT_API_URL": PREFECT_API_URL.value()},  # the harness's server
    )
    try:
        deadline = time.monotonic() + 120
        while not any(artifacts.staging_dir.glob("*/models/*.keras")):  # one variant trained
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the run never reached training"
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its training processes
        proc.wait(timeout=30)

    assert artifacts.run_ids() == [earlier.run_id]
    assert artifacts.latest_file.read_bytes() == latest_before
    [killed] = artifacts.unfinished_run_ids()
    assert not (artifacts.staging_dir / killed / "manifest.json").exists()
    manifest = store.read_json(earlier.manifest)
    for rel, digest in manifest["files"].items():
        assert store.file_digest(earlier.root / rel) == digest
