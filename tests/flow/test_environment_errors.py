"""A read-only artifacts folder and a full disk: one line, exit status 2, no run harmed.

Both are real: a tmpfs mounted read-only, and a tmpfs too small for a run.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import pytest

from cli import main
from imbalance import store
from imbalance.store import ArtifactStore, RunRecord

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def _tmpfs(path: Path, size: str):
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _earlier_run(root: Path) -> store.RunPaths:
    artifacts = ArtifactStore(root)
    run = artifacts.start_run("20200101T000000Z-earlier")
    store.write_text(run.report, "an earlier run")
    return artifacts.complete_run(run, RunRecord(run.run_id, "completed"))


def test_a_read_only_artifacts_folder_fails_at_once_in_one_line(tmp_path):
    with _tmpfs(tmp_path / "ro", "1m") as mount:
        earlier = _earlier_run(mount / "artifacts")
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        script = (
            "import sys\n"
            "from cli import main\n"
            f"status = main(['run', '--artifacts-dir', {str(mount / 'artifacts')!r}])\n"
            "assert 'prefect' not in sys.modules and 'tensorflow' not in sys.modules\n"
            "sys.exit(status)\n"
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
        err = done.stderr.decode().strip()
        assert done.returncode == 2, err
        assert err.splitlines() == [
            f"imbalance run: artifacts folder {mount / 'artifacts'} is not writable: "
            "Read-only file system"
        ]
        for command in (["prune", "--keep", "1"], ["champion", "--rollback", "1"]):
            done = subprocess.run(
                [sys.executable, "-m", "cli", *command, "--artifacts-dir", mount / "artifacts"],
                capture_output=True,
                timeout=60,
            )
            err = done.stderr.decode().strip()
            assert done.returncode == 2 and len(err.splitlines()) == 1, err
            assert "Read-only file system" in err
        assert earlier.report.read_text() == "an earlier run"


def test_a_full_disk_fails_the_run_in_one_line_and_keeps_the_earlier_run(
    tmp_path, tiny, capsys, caplog
):
    with _tmpfs(tmp_path / "small", "400k") as mount:
        root = mount / "artifacts"
        earlier = _earlier_run(root)
        latest = ArtifactStore(root).latest_file.read_bytes()
        options = [
            f"--{k.replace('_', '-')}={v}" for fields in tiny.values() for k, v in fields.items()
        ]
        status = main(["run", *options, "--artifacts-dir", str(root)])
        err = capsys.readouterr().err.strip().splitlines()
        assert status == 2
        assert err[-1].startswith("imbalance run: the run failed, nothing of it was kept in runs/")
        assert "No space left on device" in err[-1]
        assert not any(r.exc_info for r in caplog.records if "No space" in r.getMessage())
        artifacts = ArtifactStore(root)
        assert artifacts.run_ids() == [earlier.run_id]
        assert artifacts.latest_file.read_bytes() == latest
        assert earlier.report.read_text() == "an earlier run"
