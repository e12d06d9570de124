"""Nightly runs: the as-of time, the skip check, the time split, the generator's nightly seed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ConnectionClosedError
from pydantic import ValidationError

from imbalance.config import RetrainConfig
from imbalance.data.generator import GENERATOR_SPEC
from imbalance.data.snapshot import generated, generator_seed, table_sha256
from imbalance.data.spec import DataError
from imbalance.data.split import split_frame, time_split
from imbalance.monitoring.nightly import unchanged_since
from imbalance.store import ArtifactStore
from imbalance.store.provenance import git_commit, package_versions

SCHEDULED = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


# --- the as-of time ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28", datetime(2026, 11, 28, tzinfo=UTC)),
        ("2026-11-28T02:30:00Z", datetime(2026, 11, 28, 2, 30, tzinfo=UTC)),
        ("2026-11-28T03:30:00+01:00", datetime(2026, 11, 28, 2, 30, tzinfo=UTC)),
    ],
)
def test_as_of_given_wins_over_the_schedule(text, expected):
    assert RetrainConfig(nightly={"as_of": text}).as_of_time(SCHEDULED) == expected


def test_an_as_of_keeps_its_offset_so_its_date_is_the_one_written():
    as_of = RetrainConfig(nightly={"as_of": "2026-11-28T01:00:00+05:00"}).as_of_time(SCHEDULED)
    assert as_of.date().isoformat() == "2026-11-28"  # in UTC it is still the 27th
    assert as_of == datetime(2026, 11, 27, 20, tzinfo=UTC)


@pytest.mark.parametrize("text", ["0001-01-01", "9999-12-31T23:00:00-05:00"])
def test_an_as_of_far_in_the_past_or_future_is_refused_in_one_line(text):
    with pytest.raises(ValidationError, match="outside the years 1970 to 9000"):
        RetrainConfig(nightly={"as_of": text})


def test_as_of_is_the_scheduled_time_else_now():
    assert RetrainConfig().as_of_time(SCHEDULED) == SCHEDULED
    before = datetime.now(UTC)
    assert before <= RetrainConfig().as_of_time(None) <= datetime.now(UTC)


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "28.11.2026"])
def test_a_bad_as_of_is_refused_with_an_example(text):
    with pytest.raises(ValidationError, match="ISO 8601 date or time, e.g. 2026-11-28"):
        RetrainConfig(nightly={"as_of": text})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"source": {"window_days": 3}}, "source.window_days applies to your own data only"),
        ({"source": {"time_column": "day"}}, "source.time_column applies to your own data"),
        ({"holdout": {"kind": "time"}}, "holdout.kind `time` needs a source.time_column"),
        (
            {"source": {"path": "x.csv"}, "generator": {"nightly_data": True}},
            "generator.nightly_data seeds the generator",
        ),
        ({"source": {"path": "x.csv", "time_column": "label"}}, "cannot be the label"),
        (
            {"source": {"path": "x.csv", "features": ["a", "t"], "time_column": "t"}},
            "cannot be the label",
        ),
        ({"source": {"window_days": -1}}, "greater than or equal to 0"),
        ({"storage": {"keep_runs": -1}}, "greater than or equal to 0"),
    ],
)
def test_nightly_fields_refuse_what_cannot_work(fields, message):
    with pytest.raises(ValidationError, match=message):
        RetrainConfig(**fields)


# --- the generator's nightly seed -----------------------------------------------------------


def test_nightly_data_differs_per_night_and_the_default_stays_the_tutorials():
    tutorial = RetrainConfig(generator={"n_samples": 1000})
    nightly = RetrainConfig(generator={"n_samples": 1000, "nightly_data": True})
    night = datetime(2026, 11, 28, 2, tzinfo=UTC)
    assert generator_seed(tutorial, night) == 0
    assert generator_seed(nightly, night) == 20261128
    first = generated(nightly, night)
    assert first.provenance["data_seed"] == 20261128
    assert first.fingerprint == generated(nightly, night.replace(hour=23)).fingerprint
    assert first.fingerprint != generated(nightly, datetime(2026, 11, 29, tzinfo=UTC)).fingerprint
    assert generated(tutorial, night).fingerprint == generated(tutorial, SCHEDULED).fingerprint


def test_the_fingerprint_covers_names_types_and_values():
    import pyarrow as pa

    base = pa.table({"x": [1.0, 2.0], "label": pa.array([0, 1], pa.int8())})
    assert table_sha256(base) == table_sha256(pa.table(base.to_pydict(), schema=base.schema))
    assert table_sha256(base) != table_sha256(base.rename_columns(["y", "label"]))
    assert table_sha256(base) != table_sha256(base.set_column(0, "x", pa.array([1.0, 2.5])))


# --- the skip check ------------------------------------------------------------------------


def _complete_run(artifacts: ArtifactStore, run_id: str, cfg: RetrainConfig, sha: str) -> None:
    root = artifacts.runs_dir / run_id
    root.mkdir(parents=True)
    manifest = {
        "run_id": run_id,
        "status": "completed",
        "config": cfg.model_dump(mode="json"),
        "data": {"sha256": sha},
        "git_commit": git_commit(),
        "versions": package_versions(),
    }
    (root / "manifest.json").write_text(json.dumps(manifest))


def test_skip_only_when_data_and_config_equal_the_newest_runs(tmp_path):
    artifacts = ArtifactStore(tmp_path)
    cfg = RetrainConfig(training={"epochs": 3}, storage={"artifacts_dir": str(tmp_path)})
    assert unchanged_since(artifacts, cfg, "abc") is None  # no run yet
    _complete_run(artifacts, "20261127T020000Z-a", cfg, "old")
    _complete_run(artifacts, "20261128T020000Z-b", cfg, "abc")
    assert unchanged_since(artifacts, cfg, "abc") == "20261128T020000Z-b"
    # Another night, the retention settings, the skip setting: nothing the models learn from.
    other_night = cfg.updated(nightly={"as_of": "2026-11-29"}, storage={"keep_runs": 3})
    assert unchanged_since(artifacts, other_night, "abc") == "20261128T020000Z-b"
    assert unchanged_since(artifacts, cfg, "new") is None  # new data
    assert unchanged_since(artifacts, cfg.updated(training={"epochs": 4}), "abc") is None
    # Only the newest run counts: going back to older data is a change.
    assert unchanged_since(artifacts, cfg, "old") is None


def test_a_run_of_other_code_is_not_a_reason_to_skip(tmp_path):
    artifacts = ArtifactStore(tmp_path)
    cfg = RetrainConfig(storage={"artifacts_dir": str(tmp_path)})
    _complete_run(artifacts, "20261128T020000Z-b", cfg, "abc")
    assert unchanged_since(artifacts, cfg, "abc") == "20261128T020000Z-b"
    path = artifacts.runs_dir / "20261128T020000Z-b" / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps(manifest | {"git_commit": "0" * 40}))
    assert unchanged_since(artifacts, cfg, "abc") is None
    versions = manifest["versions"] | {"imbalance-flow": "0.0.1"}
    path.write_text(json.dumps(manifest | {"versions": versions}))
    assert unchanged_since(artifacts, cfg, "abc") is None


def test_a_damaged_or_older_manifest_never_makes_a_night_skip(tmp_path):
    artifacts = ArtifactStore(tmp_path)
    cfg = RetrainConfig(storage={"artifacts_dir": str(tmp_path)})
    _complete_run(artifacts, "20261128T020000Z-b", cfg, "abc")
    path = artifacts.runs_dir / "20261128T020000Z-b" / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["config"]["source"]["window_days"]  # written by a version without the field
    path.write_text(json.dumps(manifest))
    assert unchanged_since(artifacts, cfg, "abc") is None
    for damaged in ("{not json", "[]", '{"config": 3, "data": {"sha256": "abc"}}'):
        path.write_text(damaged)
        assert unchanged_since(artifacts, cfg, "abc") is None


# --- the time split ------------------------------------------------------------------------


def test_the_test_part_is_the_newest_rows_and_ties_stay_together():
    frame = pd.DataFrame({"x": np.arange(10.0), "label": [0, 1] * 5})
    days = pd.Series(pd.to_datetime([f"2026-11-0{d}" for d in [5, 1, 2, 9, 3, 8, 4, 8, 6, 7]]))
    train, test = time_split(frame, days, 0.2)
    assert sorted(test["x"]) == [3.0, 5.0, 7.0]  # both rows of the 8th join the 9th
    assert days[train.index].max() < days[test.index].min()
    assert list(days[train.index]) == sorted(days[train.index])  # time order kept


def test_a_time_split_needs_more_than_one_time():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "label": [0, 1, 1]})
    same = pd.Series(pd.to_datetime(["2026-11-28"] * 3))
    with pytest.raises(DataError, match="share the time"):
        time_split(frame, same, 0.3)


def test_split_frame_by_time_refuses_a_part_without_positives():
    cfg = RetrainConfig(
        source={"path": "x.csv", "time_column": "t"}, holdout={"kind": "time", "test_size": 0.25}
    )
    frame = pd.DataFrame({"x1": np.arange(8.0), "x2": 0.0, "label": [1, 1, 0, 0, 0, 0, 0, 0]})
    times = pd.Series(pd.date_range("2026-11-01", periods=8, freq="D"))
    with pytest.raises(DataError, match="the test split has no minority example"):
        split_frame(frame, cfg, GENERATOR_SPEC, times)


# --- what a failed read is retried for -------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (ConnectionResetError("reset by peer"), True),
        (TimeoutError("read timed out"), True),
        (OSError("I/O error"), True),
        (DataError("the label column 'x' is not in data.csv"), False),
        (ConnectionClosedError(endpoint_url="http://127.0.0.1:9000/b/k"), True),
        (ValueError("a bug"), False),
    ],
)
def test_only_a_read_that_failed_on_the_network_or_disk_is_retried(error, retried):
    from prefect.states import Failed

    from tasks.data import _transient

    assert _transient(None, None, Failed(data=error)) is retried
