"""`imbalance predict` refuses bad input in one line and leaves no output behind.

Every refusal comes before a model is loaded, so fake runs do; scoring with a real
model is tested on a real run in tests/flow/test_inspect_commands.py.
"""

import pytest

from imbalance import store
from imbalance.store import ArtifactStore


@pytest.fixture
def out_dir(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def _refused(cli, out_dir, *argv) -> str:
    """Run predict, check it failed cleanly, and return its one-line message."""
    status, out, err = cli("predict", *argv, "-o", out_dir / "scored.parquet")
    assert status == 2, (out, err)
    assert err.startswith("imbalance predict: ") and len(err.splitlines()) == 1
    assert list(out_dir.iterdir()) == []  # no output, no temporary file
    return err


def test_a_missing_feature_column_is_named(artifacts, cli, out_dir, features, tmp_path):
    source = tmp_path / "rows.parquet"
    features.drop(columns="x2").to_parquet(source)
    err = _refused(cli, out_dir, source, "--artifacts-dir", artifacts)
    assert "missing feature column(s) x2" in err


def test_a_non_numeric_value_is_named_with_its_row(artifacts, cli, out_dir, tmp_path):
    source = tmp_path / "rows.csv"
    source.write_text("x1,x2\n0.5,1.0\n0.1,abc\n")
    err = _refused(cli, out_dir, source, "--artifacts-dir", artifacts)
    assert "column x2 has a non-numeric value 'abc' at row 2" in err


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("1e39", "1e+39"),
        ("-1e308", "-1e+308"),
        ("3.5e38", "3.5e+38"),
        ("-inf", "an infinite value"),
        ("1" + "0" * 400, "an infinite value"),  # an integer past float64 (was a traceback)
    ],
)
def test_a_value_beyond_float32_is_named_with_its_row(
    artifacts, cli, out_dir, tmp_path, value, shown
):
    # Finite in the file, infinite in the model's float32: it would score NaN and label 0.
    source = tmp_path / "rows.csv"
    source.write_text(f"x1,x2\n0.5,1.0\n0.1,{value}\n")
    err = _refused(cli, out_dir, source, "--artifacts-dir", artifacts)
    assert f"column x2 has {shown} at row 2, beyond float32's range" in err


def test_a_damaged_champion_file_is_named_in_one_line(artifacts, cli, out_dir, features, tmp_path):
    source = tmp_path / "rows.parquet"
    features.to_parquet(source)
    store.write_text(ArtifactStore(artifacts).champion_file, "{ garbled")
    err = _refused(cli, out_dir, source, "--artifacts-dir", artifacts)
    assert "champion.json is unreadable" in err and "pass --run and --variant" in err


def test_an_empty_value_is_named_with_its_row(artifacts, cli, out_dir, tmp_path):
    source = tmp_path / "rows.csv"
    source.write_text("x1,x2\n0.5,1.0\n0.1,2.0\n,3.0\n")
    err = _refused(cli, out_dir, source, "--artifacts-dir", artifacts)
    assert "column x1 has an empty value at row 3" in err


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("rows.parquet", b"this is not parquet", "is not a readable Parquet file"),
        ("rows.csv", b"", "is not a readable CSV file"),
        ("rows.csv", b"x1,x2\n", "no rows to score"),
        ("rows.txt", b"x1,x2\n1,2\n", "unsupported file type '.txt'"),
    ],
)
def test_an_unreadable_or_empty_file_is_refused(
    artifacts, cli, out_dir, tmp_path, name, content, message
):
    source = tmp_path / name
    source.write_bytes(content)
    err = _refused(cli, out_dir, source, "--artifacts-dir", artifacts)
    assert str(source) in err and message in err


def test_a_file_that_does_not_exist_is_named(artifacts, cli, out_dir, tmp_path):
    err = _refused(cli, out_dir, tmp_path / "nowhere.csv", "--artifacts-dir", artifacts)
    assert "nowhere.csv: no such file" in err


def test_an_unknown_run_or_variant_is_named(artifacts, cli, out_dir, features, tmp_path):
    source = tmp_path / "rows.parquet"
    features.to_parquet(source)
    err = _refused(cli, out_dir, source, "--run", "nope", "--artifacts-dir", artifacts)
    assert "no complete run 'nope'" in err
    err = _refused(cli, out_dir, source, "--variant", "fancy", "--artifacts-dir", artifacts)
    assert "has no variant 'fancy' (it has: baseline, balanced, manual)" in err
    newest = ["--run", "latest", "--variant", "balanced"]  # the newest run did not train it
    err = _refused(cli, out_dir, source, *newest, "--artifacts-dir", artifacts)
    assert "has no variant 'balanced' (it has: baseline, manual)" in err


def test_no_champion_yet_says_what_to_do(tmp_path, cli, out_dir, features, fake_run):
    root = tmp_path / "artifacts"
    fake_run(root, "20260101T000000Z-only")
    source = tmp_path / "rows.parquet"
    features.to_parquet(source)
    err = _refused(cli, out_dir, source, "--artifacts-dir", root)
    assert "no champion yet" in err and "--run" in err


def test_a_model_changed_since_its_run_is_not_used(artifacts, cli, out_dir, features, tmp_path):
    ArtifactStore(artifacts).run("champion").model("balanced").write_bytes(b"tampered")
    source = tmp_path / "rows.parquet"
    features.to_parquet(source)
    err = _refused(cli, out_dir, source, "--artifacts-dir", artifacts)
    assert "balanced.keras differs from its manifest" in err


def test_the_output_must_be_parquet(artifacts, cli, features, tmp_path):
    source = tmp_path / "rows.parquet"
    features.to_parquet(source)
    status, _, err = cli("predict", source, "-o", tmp_path / "scored.csv", "--artifacts-dir",
                         artifacts)  # fmt: skip
    assert status == 2 and "the output is Parquet" in err
    assert not (tmp_path / "scored.csv").exists()


def test_a_run_without_a_recorded_choice_needs_a_variant(
    artifacts, cli, out_dir, features, tmp_path
):
    run = ArtifactStore(artifacts).run("20260102T000000Z-middle")
    manifest = store.read_json(run.manifest)
    del manifest["champion"]  # as written before champions existed
    store.write_json(run.manifest, manifest)
    source = tmp_path / "rows.parquet"
    features.to_parquet(source)
    err = _refused(cli, out_dir, source, "--run", run.run_id, "--artifacts-dir", artifacts)
    assert "records no chosen variant: pass --variant" in err


def test_the_output_may_not_replace_the_input_or_a_run_file(artifacts, cli, features, tmp_path):
    source = tmp_path / "rows.parquet"
    features.to_parquet(source)
    before = source.read_bytes()
    status, _, err = cli("predict", source, "-o", source, "--artifacts-dir", artifacts)
    assert status == 2 and "is the input" in err and source.read_bytes() == before
    inside = artifacts / "runs" / "scores.parquet"
    status, _, err = cli("predict", source, "-o", inside, "--artifacts-dir", artifacts)
    assert status == 2 and "inside the artifacts folder" in err and not inside.exists()


def test_times_or_booleans_for_a_numeric_feature_are_refused(artifacts, cli, out_dir, tmp_path):
    import pandas as pd

    source = tmp_path / "rows.parquet"
    pd.DataFrame({"x1": pd.to_datetime(["2026-01-01", "2026-01-02"]), "x2": [1.0, 2.0]}).to_parquet(
        source
    )
    err = _refused(cli, out_dir, source, "--artifacts-dir", artifacts)
    assert "column x1 holds datetime64" in err
