"""The artifact store: atomic writes, staging, completion, lookup."""

import json
import os

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from imbalance import store
from imbalance.store import ArtifactStore, RunNotFoundError, RunRecord, files


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "f.json"
    store.write_json(target, {"v": 1})
    with pytest.raises(RuntimeError), files._atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed while writing")
    assert json.loads(target.read_text()) == {"v": 1}
    assert os.listdir(tmp_path) == ["f.json"]


def test_parquet_keeps_its_explicit_schema_and_metadata(tmp_path):
    schema = pa.schema([("a", pa.float64()), ("b", pa.int8())])
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [0, 1]})
    path = store.write_parquet(tmp_path / "x.parquet", frame, schema, {"seed": 3})
    assert pq.read_schema(path).remove_metadata() == schema
    assert store.parquet_metadata(path) == {"seed": 3}


def _complete(artifacts: ArtifactStore, run_id: str):
    run = artifacts.start_run(run_id)
    store.write_text(run.report, "hello")
    return artifacts.complete_run(run, RunRecord(run_id, "completed"))


def test_a_completed_run_moves_out_of_staging_with_digests(tmp_path):
    artifacts = ArtifactStore(tmp_path)
    final = _complete(artifacts, "20260101T000000Z-a")
    assert final.root == tmp_path / "runs" / "20260101T000000Z-a"
    assert not (tmp_path / ".staging" / "20260101T000000Z-a").exists()
    manifest = store.read_json(final.manifest)
    assert manifest["files"]["report.md"] == store.file_digest(final.report)
    assert artifacts.latest_run_id() == "20260101T000000Z-a"
    assert artifacts.run("latest").root == final.root


def test_latest_never_moves_back_to_an_older_run(tmp_path):
    artifacts = ArtifactStore(tmp_path)
    _complete(artifacts, "20260102T000000Z-new")
    _complete(artifacts, "20260101T000000Z-old")
    assert artifacts.latest_run_id() == "20260102T000000Z-new"
    assert artifacts.run_ids() == ["20260102T000000Z-new", "20260101T000000Z-old"]


def test_a_failed_run_stays_in_staging_and_is_not_found(tmp_path):
    artifacts = ArtifactStore(tmp_path)
    run = artifacts.start_run("20260101T000000Z-bad")
    artifacts.fail_run(run, RunRecord(run.run_id, "failed"))
    assert artifacts.unfinished_run_ids() == ["20260101T000000Z-bad"]
    assert artifacts.run_ids() == []
    with pytest.raises(RunNotFoundError):
        artifacts.run("20260101T000000Z-bad")
    with pytest.raises(RunNotFoundError):
        artifacts.run("latest")


def test_a_run_id_cannot_be_reused(tmp_path):
    artifacts = ArtifactStore(tmp_path)
    _complete(artifacts, "20260101T000000Z-a")
    with pytest.raises(FileExistsError):
        artifacts.start_run("20260101T000000Z-a")


def test_deleting_a_run_removes_it_whole(tmp_path):
    artifacts = ArtifactStore(tmp_path)
    _complete(artifacts, "20260101T000000Z-a")
    artifacts.delete_run("20260101T000000Z-a")
    assert artifacts.run_ids() == []
    assert artifacts.unfinished_run_ids() == []
